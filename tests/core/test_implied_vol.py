"""Implied vol: round trips to 1e-10 in price, QuantLib's solver as a cross-check, bounds."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.pricing.american import american_row
from hedger.core.pricing.european import european_row
from hedger.core.pricing.implied_vol import (
    ABOVE_UPPER_BOUND,
    BELOW_LOWER_BOUND,
    EXPIRED,
    OUT_OF_RANGE,
    SOLVED,
    implied_vol,
)

ql = pytest.importorskip("QuantLib")

PRICE_ACCURACY = 1e-10


def european_price(spot, strike, time, vol, rate, dividend, sign, futures=False):  # type: ignore[no-untyped-def]
    return european_row(spot, strike, time, vol, rate, dividend, sign, futures, 365.0)[0]


def time_value(spot, strike, time, vol, rate, dividend, sign):  # type: ignore[no-untyped-def]
    forward = sign * (spot * math.exp(-dividend * time) - strike * math.exp(-rate * time))
    return european_price(spot, strike, time, vol, rate, dividend, sign) - max(forward, 0.0)


# Points whose price carries vol information (a time value above 1e-8).
EUROPEAN_GRID = [
    point
    for point in itertools.product(
        (70.0, 100.0, 140.0),  # spot
        (100.0,),  # strike
        (0.02, 0.5, 3.0),  # years
        (0.05, 0.25, 1.2),  # vol
        (0.0, 0.05),  # rate
        (0.0, 0.03),  # dividend yield
        (1.0, -1.0),  # call, put
    )
    if time_value(*point) >= 1e-8
]


@pytest.mark.parametrize(
    ("spot", "strike", "time", "vol", "rate", "dividend", "sign"), EUROPEAN_GRID
)
def test_implied_vol_european_round_trip_reprices_within_1e_10(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float, sign: float
) -> None:
    price = european_price(spot, strike, time, vol, rate, dividend, sign)

    solved, status = implied_vol(price, spot, strike, time, rate, dividend, sign, False, False)

    assert status == SOLVED
    repriced = european_price(spot, strike, time, solved, rate, dividend, sign)
    assert abs(repriced - price) <= PRICE_ACCURACY
    assert solved == pytest.approx(vol, rel=1e-6)


@pytest.mark.parametrize(
    ("spot", "time", "vol", "sign"),
    [(100.0, 0.5, 0.3, 1.0), (80.0, 1.0, 0.2, -1.0), (120.0, 2.0, 0.5, -1.0)],
)
def test_implied_vol_matches_quantlib_solver(
    spot: float, time: float, vol: float, sign: float
) -> None:
    rate, dividend, strike = 0.03, 0.01, 100.0
    price = european_price(spot, strike, time, vol, rate, dividend, sign)
    option_type = ql.Option.Call if sign > 0 else ql.Option.Put
    forward = spot * math.exp((rate - dividend) * time)
    oracle = ql.blackFormulaImpliedStdDev(
        option_type, strike, forward, price, math.exp(-rate * time), 0.0, 0.2, 1e-14, 1000
    ) / math.sqrt(time)

    solved, status = implied_vol(price, spot, strike, time, rate, dividend, sign, False, False)

    assert status == SOLVED
    assert solved == pytest.approx(oracle, rel=1e-8)


@pytest.mark.parametrize(
    ("spot", "time", "vol", "sign"),
    [(100.0, 0.5, 0.3, -1.0), (90.0, 1.0, 0.25, -1.0), (110.0, 0.75, 0.4, 1.0)],
)
def test_implied_vol_american_round_trip_reprices_within_1e_10(
    spot: float, time: float, vol: float, sign: float
) -> None:
    rate, dividend = 0.05, 0.03
    price = american_row(spot, 100.0, time, vol, rate, dividend, sign, False, 365.0)[0]

    solved, status = implied_vol(price, spot, 100.0, time, rate, dividend, sign, False, True)

    assert status == SOLVED
    repriced = american_row(spot, 100.0, time, solved, rate, dividend, sign, False, 365.0)[0]
    assert abs(repriced - price) <= PRICE_ACCURACY
    assert solved == pytest.approx(vol, rel=1e-6)


def test_implied_vol_black_76_round_trip() -> None:
    price = european_price(100.0, 95.0, 0.5, 0.35, 0.04, 0.04, 1.0, True)

    solved, status = implied_vol(price, 100.0, 95.0, 0.5, 0.04, 0.04, 1.0, True, False)

    assert status == SOLVED
    assert solved == pytest.approx(0.35, rel=1e-9)


@pytest.mark.parametrize("american", [False, True])
def test_implied_vol_below_intrinsic_is_refused(american: bool) -> None:
    # A call struck at 80 with spot 100 is worth at least 20 (less discounting).
    vol, status = implied_vol(15.0, 100.0, 80.0, 0.5, 0.0, 0.0, 1.0, False, american)

    assert status == BELOW_LOWER_BOUND
    assert math.isnan(vol)


def test_implied_vol_american_put_below_immediate_exercise_is_refused() -> None:
    # Above the European lower bound (K e^{-rT} - S = 7.56) but below exercise now (10).
    _, status = implied_vol(9.0, 90.0, 100.0, 1.0, 0.025, 0.0, -1.0, False, True)

    assert status == BELOW_LOWER_BOUND


@pytest.mark.parametrize(("price", "sign"), [(100.0, 1.0), (150.0, -1.0)])
def test_implied_vol_at_or_above_upper_bound_is_refused(price: float, sign: float) -> None:
    vol, status = implied_vol(price, 100.0, 100.0, 1.0, 0.0, 0.0, sign, False, False)

    assert status == ABOVE_UPPER_BOUND
    assert math.isnan(vol)


def test_implied_vol_expired_option_is_refused() -> None:
    assert implied_vol(5.0, 100.0, 100.0, 0.0, 0.0, 0.0, 1.0, False, False)[1] == EXPIRED


def test_implied_vol_beyond_max_vol_is_out_of_range() -> None:
    # Within the bounds (below S) but only a vol far above 1000% prices it.
    _, status = implied_vol(99.99, 100.0, 100.0, 0.1, 0.0, 0.0, 1.0, False, False)

    assert status == OUT_OF_RANGE


@settings(max_examples=200, deadline=None)
@given(
    st.floats(min_value=20.0, max_value=500.0),
    st.floats(min_value=0.05, max_value=3.0),
    st.floats(min_value=0.05, max_value=1.5),
    st.floats(min_value=0.0, max_value=0.1),
    st.booleans(),
)
def test_implied_vol_round_trip_property(
    spot: float, time: float, vol: float, rate: float, is_call: bool
) -> None:
    sign = 1.0 if is_call else -1.0
    price = european_price(spot, 100.0, time, vol, rate, 0.0, sign)
    lower = max(sign * (spot - 100.0 * math.exp(-rate * time)), 0.0)
    if price - lower < 1e-6:
        return  # too close to the bound to carry vol information

    solved, status = implied_vol(price, spot, 100.0, time, rate, 0.0, sign, False, False)

    assert status == SOLVED
    assert abs(european_price(spot, 100.0, time, solved, rate, 0.0, sign) - price) <= 1e-10
