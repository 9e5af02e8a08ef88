"""American options (hedger.core.pricing.american) against QuantLib as the oracle.

Prices and delta, gamma, theta against QuantLib's finite-difference engine on a fine grid
(1000 × 1000, Douglas scheme; itself up to ~4e-4 off QuantLib's high-precision QD+ engine
on these options). Vega, rho, vanna and volga against central differences of QuantLib's
QdFp engine with its accurate scheme (an independent implementation, accurate to ~1e-8),
charm against day steps of the finite-difference engine's delta. The Greeks against
differences of our own price: the boundary's implicit derivatives against re-solving it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.greeks import black_scholes
from hedger.core.pricing.american import american_arrays, american_row
from hedger.core.pricing.european import (
    CHARM,
    DELTA,
    GAMMA,
    OUTPUTS,
    PRICE,
    RHO,
    THETA,
    VANNA,
    VEGA,
    VOLGA,
)

ql = pytest.importorskip("QuantLib")

STRIKE = 100.0
# The documented error of the method: 1e-3 of the price, plus 1e-5 × strike for cheap ones.
RELATIVE_ERROR = 1e-3
ABSOLUTE_ERROR = 1e-5 * STRIKE
GRID = list(
    itertools.product(
        (80.0, 100.0, 120.0),  # spot
        (30, 1095),  # days to expiry
        (0.15, 0.45),  # vol
        (0.06,),  # rate
        (0.0, 0.04),  # dividend yield
        (True, False),
    )
)
GREEK_GRID = [
    (100.0, 365, 0.25, 0.05, 0.02, False),
    (90.0, 180, 0.35, 0.03, 0.0, False),
    (110.0, 730, 0.2, 0.02, 0.05, True),
    (100.0, 90, 0.3, 0.04, 0.06, True),
]


@pytest.fixture
def today() -> Iterator[Any]:
    settings = ql.Settings.instance()
    previous = settings.evaluationDate
    settings.evaluationDate = ql.Date(15, ql.January, 2025)
    yield settings.evaluationDate
    settings.evaluationDate = previous


def quantlib_option(
    today: Any,
    spot: float,
    days: int,
    vol: float,
    rate: float,
    dividend: float,
    is_call: bool,
    engine: Callable[[Any], Any],
) -> Any:
    day_count = ql.Actual365Fixed()
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, dividend, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), vol, day_count)
        ),
    )
    option_type = ql.Option.Call if is_call else ql.Option.Put
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(option_type, STRIKE), ql.AmericanExercise(today, today + days)
    )
    option.setPricingEngine(engine(process))
    return option


def finite_differences(process: Any) -> Any:
    return ql.FdBlackScholesVanillaEngine(process, 1000, 1000, 0, ql.FdmSchemeDesc.Douglas())


def accurate(process: Any) -> Any:
    return ql.QdFpAmericanEngine(process, ql.QdFpAmericanEngine.accurateScheme())


def ours(spot: float, days: int, vol: float, rate: float, dividend: float, is_call: bool):  # type: ignore[no-untyped-def]
    sign = 1.0 if is_call else -1.0
    return american_row(spot, STRIKE, days / 365.0, vol, rate, dividend, sign, False, 365.0)


@pytest.mark.parametrize(("spot", "days", "vol", "rate", "dividend", "is_call"), GRID)
def test_american_price_delta_gamma_theta_match_quantlib_finite_differences(
    today: Any, spot: float, days: int, vol: float, rate: float, dividend: float, is_call: bool
) -> None:
    oracle = quantlib_option(today, spot, days, vol, rate, dividend, is_call, finite_differences)

    greeks = ours(spot, days, vol, rate, dividend, is_call)

    price = oracle.NPV()
    assert abs(greeks[PRICE] - price) <= RELATIVE_ERROR * price + ABSOLUTE_ERROR
    assert greeks[DELTA] == pytest.approx(oracle.delta(), abs=2e-3)
    assert greeks[GAMMA] == pytest.approx(oracle.gamma(), rel=2e-2, abs=2e-4)
    assert greeks[THETA] == pytest.approx(oracle.theta() / 365.0, rel=1e-2, abs=5e-4)


@pytest.mark.parametrize(("spot", "days", "vol", "rate", "dividend", "is_call"), GREEK_GRID)
def test_american_vega_rho_vanna_volga_match_differences_of_quantlib_qdfp_prices(
    today: Any, spot: float, days: int, vol: float, rate: float, dividend: float, is_call: bool
) -> None:
    def price(s: float = spot, v: float = vol, r: float = rate) -> float:
        option = quantlib_option(today, s, days, v, r, dividend, is_call, accurate)
        return float(option.NPV())

    greeks = ours(spot, days, vol, rate, dividend, is_call)

    k, h, dr = 1e-3, 0.5, 1e-4
    vega = (price(v=vol + k) - price(v=vol - k)) / (2 * k) * 0.01
    rho = (price(r=rate + dr) - price(r=rate - dr)) / (2 * dr) * 0.01
    volga = (price(v=vol + k) - 2 * price() + price(v=vol - k)) / (k * k) * 1e-4
    cross = price(spot + h, vol + k) - price(spot - h, vol + k)
    vanna = (cross - price(spot + h, vol - k) + price(spot - h, vol - k)) / (4 * h * k) * 0.01
    assert greeks[VEGA] == pytest.approx(vega, rel=5e-4, abs=1e-4)
    assert greeks[RHO] == pytest.approx(rho, rel=2e-3, abs=1e-4)
    assert greeks[VANNA] == pytest.approx(vanna, rel=1e-2, abs=2e-5)
    assert greeks[VOLGA] == pytest.approx(volga, rel=2e-2, abs=2e-4)


@pytest.mark.parametrize(("spot", "days", "vol", "rate", "dividend", "is_call"), GREEK_GRID)
def test_american_greeks_match_differences_of_its_own_price(
    spot: float, days: int, vol: float, rate: float, dividend: float, is_call: bool
) -> None:
    def row(s: float = spot, v: float = vol, r: float = rate) -> Any:
        return ours(s, days, v, r, dividend, is_call)

    greeks = row()

    k, h, dr = 1e-4, 1e-2, 1e-5
    up, down = row(v=vol + k), row(v=vol - k)
    right, left = row(s=spot + h), row(s=spot - h)
    assert greeks[DELTA] == pytest.approx((right[PRICE] - left[PRICE]) / (2 * h), rel=1e-6)
    assert greeks[GAMMA] == pytest.approx((right[DELTA] - left[DELTA]) / (2 * h), rel=1e-6)
    assert greeks[VEGA] == pytest.approx((up[PRICE] - down[PRICE]) / (2 * k) * 0.01, rel=2e-4)
    assert greeks[VANNA] == pytest.approx((up[DELTA] - down[DELTA]) / (2 * k) * 0.01, rel=2e-4)
    rho = (row(r=rate + dr)[PRICE] - row(r=rate - dr)[PRICE]) / (2 * dr) * 0.01
    assert greeks[RHO] == pytest.approx(rho, rel=1e-3)
    # The price's own curvature in vol also carries how the QD+ start of the boundary's
    # Newton step moves with vol (~1% of volga); volga itself does not (see above).
    volga = (up[PRICE] - 2 * greeks[PRICE] + down[PRICE]) / (k * k) * 1e-4
    assert greeks[VOLGA] == pytest.approx(volga, rel=3e-2)


@pytest.mark.parametrize(("spot", "days", "vol", "rate", "dividend", "is_call"), GREEK_GRID)
def test_american_charm_matches_day_steps_of_quantlib_delta(
    today: Any, spot: float, days: int, vol: float, rate: float, dividend: float, is_call: bool
) -> None:
    def delta(expiry_days: int) -> float:
        option = quantlib_option(
            today, spot, expiry_days, vol, rate, dividend, is_call, finite_differences
        )
        return float(option.delta())

    greeks = ours(spot, days, vol, rate, dividend, is_call)

    # Charm is time passing: one day less to expiry, per day.
    charm = (delta(days - 1) - delta(days + 1)) / 2.0
    assert greeks[CHARM] == pytest.approx(charm, rel=5e-2, abs=5e-5)


@pytest.mark.parametrize("is_call", [True, False])
def test_american_on_futures_matches_quantlib_qdfp_on_black_process(
    today: Any, is_call: bool
) -> None:
    day_count = ql.Actual365Fixed()
    process = ql.BlackProcess(
        ql.QuoteHandle(ql.SimpleQuote(100.0)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.05, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), 0.3, day_count)
        ),
    )
    option_type = ql.Option.Call if is_call else ql.Option.Put
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(option_type, 95.0), ql.AmericanExercise(today, today + 365)
    )
    option.setPricingEngine(accurate(process))

    sign = 1.0 if is_call else -1.0
    price = american_row(100.0, 95.0, 1.0, 0.3, 0.05, 0.05, sign, True, 365.0)[PRICE]

    assert price == pytest.approx(option.NPV(), rel=RELATIVE_ERROR)


@pytest.mark.parametrize(("spot", "days", "vol", "rate", "dividend", "is_call"), GRID)
def test_american_is_worth_at_least_european_and_intrinsic(
    spot: float, days: int, vol: float, rate: float, dividend: float, is_call: bool
) -> None:
    european = black_scholes(spot, STRIKE, days / 365.0, vol, rate, dividend, is_call).price

    price = ours(spot, days, vol, rate, dividend, is_call)[PRICE]

    intrinsic = max((1 if is_call else -1) * (spot - STRIKE), 0.0)
    assert price >= float(european) - 1e-12
    assert price >= intrinsic - 1e-12


@pytest.mark.parametrize("dividend", [0.0, -0.01])
def test_american_call_without_dividend_is_the_european_call(dividend: float) -> None:
    american = american_row(105.0, 100.0, 0.8, 0.25, 0.05, dividend, 1.0, False, 365.0)
    european = black_scholes(105.0, 100.0, 0.8, 0.25, 0.05, dividend, True)

    for index, name in enumerate(("price", "delta", "gamma", "vega", "theta", "rho")):
        assert american[index] == pytest.approx(float(getattr(european, name)), rel=1e-12)


def test_american_put_call_symmetry_swaps_spot_strike_and_rates() -> None:
    call = american_row(110.0, 95.0, 1.5, 0.3, 0.02, 0.05, 1.0, False, 365.0)[PRICE]
    put = american_row(95.0, 110.0, 1.5, 0.3, 0.05, 0.02, -1.0, False, 365.0)[PRICE]

    assert call == pytest.approx(put, rel=1e-12)


def test_american_deep_in_the_money_put_is_exercised_now() -> None:
    greeks = american_row(40.0, 100.0, 1.0, 0.2, 0.08, 0.0, -1.0, False, 365.0)

    assert greeks[PRICE] == pytest.approx(60.0, rel=1e-14)
    assert greeks[DELTA] == -1.0
    assert greeks[GAMMA] == greeks[THETA] == greeks[VEGA] == greeks[CHARM] == 0.0


@pytest.mark.parametrize(
    ("spot", "strike", "time", "vol", "rate", "dividend"),
    [(106.97, 173.51, 17.0, 0.6, 0.37, 0.09), (270.67, 275.91, 24.9, 2.3e-4, 0.34, 0.09)],
)
def test_american_far_outside_the_documented_range_is_at_least_exercise_value(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float
) -> None:
    greeks = american_row(spot, strike, time, vol, rate, dividend, -1.0, False, 365.0)

    assert greeks[PRICE] >= strike - spot
    assert all(math.isfinite(value) for value in greeks)


@pytest.mark.parametrize(
    ("spot", "is_call", "expected"), [(110.0, True, 10.0), (90.0, False, 10.0), (90.0, True, 0.0)]
)
@pytest.mark.parametrize("time", [0.0, -0.1])
def test_american_expired_gives_intrinsic_value(
    spot: float, is_call: bool, expected: float, time: float
) -> None:
    greeks = american_row(spot, 100.0, time, 0.3, 0.05, 0.0, 1.0 if is_call else -1.0, False, 365.0)

    assert greeks[PRICE] == expected
    assert all(math.isfinite(value) for value in greeks)


def test_american_put_with_negative_rate_is_european_or_intrinsic() -> None:
    greeks = american_row(95.0, 100.0, 1.0, 0.2, -0.01, 0.0, -1.0, False, 365.0)
    european = black_scholes(95.0, 100.0, 1.0, 0.2, -0.01, 0.0, False)

    assert greeks[PRICE] == pytest.approx(max(float(european.price), 5.0), rel=1e-12)


@pytest.mark.parametrize("vol", [1e-14, 0.0])
def test_american_tiny_vol_is_the_better_of_exercise_now_and_forward_payoff(vol: float) -> None:
    put = american_row(90.0, 100.0, 1.0, vol, 0.05, 0.0, -1.0, False, 365.0)

    assert put[PRICE] == pytest.approx(10.0)
    assert all(math.isfinite(value) for value in put)


def test_american_arrays_equal_rows_with_boundaries_shared() -> None:
    spot = np.array([90.0, 100.0, 110.0, 100.0])
    strike = np.array([100.0, 100.0, 95.0, 105.0])
    time = np.array([0.5, 0.5, 0.5, 1.0])
    sign = np.array([-1.0, -1.0, -1.0, 1.0])
    out = np.empty((OUTPUTS, 4))

    american_arrays(
        spot,
        strike,
        time,
        np.array([0.3]),
        np.array([0.04]),
        np.array([0.02]),
        sign,
        False,
        365.0,
        out,
    )

    for i in range(4):
        row = american_row(spot[i], strike[i], time[i], 0.3, 0.04, 0.02, sign[i], False, 365.0)
        np.testing.assert_array_equal(out[:, i], row)


@settings(max_examples=60, deadline=None)
@given(
    st.floats(min_value=20.0, max_value=300.0),
    st.floats(min_value=20.0, max_value=300.0),
    st.floats(min_value=0.01, max_value=3.0),
    st.floats(min_value=0.05, max_value=1.0),
    st.floats(min_value=0.0, max_value=0.1),
    st.floats(min_value=0.0, max_value=0.1),
)
def test_american_put_bounds_and_monotone_in_spot_property(
    spot_a: float, spot_b: float, time: float, vol: float, rate: float, dividend: float
) -> None:
    low, high = sorted((spot_a, spot_b))

    at_low = american_row(low, STRIKE, time, vol, rate, dividend, -1.0, False, 365.0)
    at_high = american_row(high, STRIKE, time, vol, rate, dividend, -1.0, False, 365.0)

    european = black_scholes(low, STRIKE, time, vol, rate, dividend, False)
    assert max(STRIKE - low, float(european.price)) - 1e-9 <= at_low[PRICE] <= STRIKE
    assert at_high[PRICE] <= at_low[PRICE] + 1e-9
    assert -1.0 - 1e-9 <= at_low[DELTA] <= 1e-9
    assert all(math.isfinite(value) for value in (*at_low, *at_high))


@pytest.mark.parametrize("strike", [1e6, 1e-3])
def test_american_extreme_strikes_give_finite_bounded_values(strike: float) -> None:
    put = american_row(100.0, strike, 1.0, 0.3, 0.05, 0.02, -1.0, False, 365.0)
    call = american_row(100.0, strike, 1.0, 0.3, 0.05, 0.02, 1.0, False, 365.0)

    assert all(math.isfinite(value) for value in (*put, *call))
    assert put[PRICE] == pytest.approx(max(strike - 100.0, 0.0), rel=1e-9, abs=1e-9)
    assert 0.0 <= call[PRICE] <= 100.0
