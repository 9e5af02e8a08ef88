"""Rho, vanna, volga, charm and Black-76 against QuantLib, finite differences and properties.

QuantLib's AnalyticEuropeanEngine gives rho directly (per 1.0 of rate); for vanna, volga
and charm it has no output, so the oracle is a central difference of QuantLib's own
analytic delta and vega (BlackCalculator) in vol and in time.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.greeks import black_76, black_scholes

ql = pytest.importorskip("QuantLib")

GRID = list(
    itertools.product(
        (80.0, 100.0, 125.0),  # spot
        (90.0, 110.0),  # strike
        (0.1, 0.75, 2.0),  # years
        (0.15, 0.45),  # vol
        (0.0, 0.04),  # rate
        (0.0, 0.025),  # dividend yield
        (True, False),
    )
)
PROPERTIES = settings(max_examples=200, deadline=None)


@pytest.fixture
def today() -> Iterator[Any]:
    previous = ql.Settings.instance().evaluationDate
    ql.Settings.instance().evaluationDate = ql.Date(15, ql.January, 2025)
    yield ql.Settings.instance().evaluationDate
    ql.Settings.instance().evaluationDate = previous


def calculator(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float, is_call: bool
) -> Any:
    """QuantLib's analytic Black formula for a BSM option with these inputs."""
    option_type = ql.Option.Call if is_call else ql.Option.Put
    forward = spot * math.exp((rate - dividend) * time)
    return ql.BlackCalculator(
        ql.PlainVanillaPayoff(option_type, strike),
        forward,
        vol * math.sqrt(time),
        math.exp(-rate * time),
    )


@pytest.mark.parametrize(("spot", "strike", "time", "vol", "rate", "dividend", "is_call"), GRID)
def test_black_scholes_rho_matches_quantlib_per_percentage_point(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float, is_call: bool
) -> None:
    ours = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    oracle = calculator(spot, strike, time, vol, rate, dividend, is_call)

    # QuantLib: rho per 1.0 of rate with the spot (not the forward) held fixed.
    np.testing.assert_allclose(ours.rho, oracle.rho(time) / 100.0, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("spot", "strike", "time", "vol", "rate", "dividend", "is_call"), GRID)
def test_black_scholes_vanna_volga_charm_match_differences_of_quantlib_delta_and_vega(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float, is_call: bool
) -> None:
    ours = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    def delta(v: float, t: float) -> float:
        return float(calculator(spot, strike, t, v, rate, dividend, is_call).delta(spot))

    def vega(v: float) -> float:
        return float(calculator(spot, strike, time, v, rate, dividend, is_call).vega(time))

    h, dt = 1e-5, 1e-6
    vanna = (delta(vol + h, time) - delta(vol - h, time)) / (2 * h) * 0.01
    volga = (vega(vol + h) - vega(vol - h)) / (2 * h) * 1e-4
    charm = -(delta(vol, time + dt) - delta(vol, time - dt)) / (2 * dt) / 365.0
    np.testing.assert_allclose(ours.vanna, vanna, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ours.volga, volga, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ours.charm, charm, rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize(("future", "strike", "days"), [(100.0, 95.0, 30), (60.0, 70.0, 400)])
def test_black_76_matches_quantlib_black_process(
    today: Any, future: float, strike: float, days: int, is_call: bool
) -> None:
    day_count = ql.Actual365Fixed()
    rate, vol = 0.045, 0.3
    process = ql.BlackProcess(
        ql.QuoteHandle(ql.SimpleQuote(future)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), vol, day_count)
        ),
    )
    option_type = ql.Option.Call if is_call else ql.Option.Put
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(option_type, strike), ql.EuropeanExercise(today + days)
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))

    ours = black_76(future, strike, days / 365.0, vol, rate, is_call)

    for actual, expected in (
        (ours.price, option.NPV()),
        (ours.delta, option.delta()),
        (ours.gamma, option.gamma()),
        (ours.vega * 100.0, option.vega()),
        (ours.theta, option.thetaPerDay()),
        # Futures price held fixed: the rate moves both of QuantLib's curves.
        (ours.rho * 100.0, option.rho() + option.dividendRho()),
    ):
        np.testing.assert_allclose(actual, expected, rtol=1e-9, atol=1e-12)


def grid() -> tuple[np.ndarray, ...]:
    return tuple(np.array(column) for column in zip(*GRID, strict=True))


def test_black_scholes_rho_matches_central_difference_of_price() -> None:
    spot, strike, time, vol, rate, dividend, is_call = grid()
    h = 1e-6
    up = black_scholes(spot, strike, time, vol, rate + h, dividend, is_call).price
    down = black_scholes(spot, strike, time, vol, rate - h, dividend, is_call).price

    ours = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    np.testing.assert_allclose(ours.rho, (up - down) / (2 * h) * 0.01, rtol=1e-6, atol=1e-9)


def test_black_scholes_vanna_and_charm_match_differences_of_delta() -> None:
    spot, strike, time, vol, rate, dividend, is_call = grid()
    h, dt = 1e-5, 1e-6

    def delta(v: np.ndarray, t: np.ndarray) -> np.ndarray:
        return black_scholes(spot, strike, t, v, rate, dividend, is_call).delta

    ours = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    vanna = (delta(vol + h, time) - delta(vol - h, time)) / (2 * h) * 0.01
    charm = -(delta(vol, time + dt) - delta(vol, time - dt)) / (2 * dt) / 365.0
    np.testing.assert_allclose(ours.vanna, vanna, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(ours.charm, charm, rtol=1e-5, atol=1e-9)


def test_black_scholes_volga_matches_second_difference_of_price() -> None:
    spot, strike, time, vol, rate, dividend, is_call = grid()
    h = 1e-4
    up, mid, down = (
        black_scholes(spot, strike, time, v, rate, dividend, is_call).price
        for v in (vol + h, vol, vol - h)
    )

    ours = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    volga = (up - 2 * mid + down) / (h * h) * 1e-4
    np.testing.assert_allclose(ours.volga, volga, rtol=1e-4, atol=1e-7)


def test_black_scholes_days_per_year_scales_theta_and_charm_only() -> None:
    act365 = black_scholes(100.0, 100.0, 0.5, 0.2, 0.03, 0.01, True)
    act360 = black_scholes(100.0, 100.0, 0.5, 0.2, 0.03, 0.01, True, days_per_year=360.0)

    assert act360.theta == pytest.approx(act365.theta * 365.0 / 360.0, rel=1e-14)
    assert act360.charm == pytest.approx(act365.charm * 365.0 / 360.0, rel=1e-14)
    assert act360.price == act365.price
    assert act360.vega == act365.vega


@pytest.mark.parametrize("time", [0.0, -1.0])
def test_black_scholes_expired_has_zero_second_order_greeks_and_rho(time: float) -> None:
    greeks = black_scholes(120.0, 100.0, time, 0.3, 0.05, 0.02, True)

    assert float(greeks.rho) == float(greeks.vanna) == float(greeks.volga) == 0.0
    assert float(greeks.charm) == 0.0


def test_black_scholes_zero_vol_rho_and_charm_are_derivatives_of_forward_payoff() -> None:
    spot, strike, time, rate, dividend = 120.0, 100.0, 0.5, 0.05, 0.02
    greeks = black_scholes(spot, strike, time, 0.0, rate, dividend, True)

    assert greeks.rho == pytest.approx(strike * time * math.exp(-rate * time) * 0.01)
    assert greeks.charm == pytest.approx(dividend * math.exp(-dividend * time) / 365.0)
    assert float(greeks.vanna) == float(greeks.volga) == 0.0


def test_black_scholes_huge_strike_call_is_worthless_and_put_is_discounted_strike() -> None:
    call = black_scholes(100.0, 1e9, 1.0, 0.3, 0.05, 0.0, True)
    put = black_scholes(100.0, 1e9, 1.0, 0.3, 0.05, 0.0, False)

    assert float(call.price) == 0.0
    assert put.price == pytest.approx(1e9 * math.exp(-0.05) - 100.0, rel=1e-12)
    assert put.delta == pytest.approx(-1.0, abs=1e-12)


spots = st.floats(min_value=1.0, max_value=1000.0)
strikes = st.floats(min_value=1.0, max_value=1000.0)
times = st.floats(min_value=1e-3, max_value=5.0)
vols = st.floats(min_value=0.01, max_value=2.0)
rates = st.floats(min_value=-0.02, max_value=0.15)
dividends = st.floats(min_value=0.0, max_value=0.1)


@PROPERTIES
@given(
    spots,
    strikes,
    times,
    vols,
    rates,
    dividends,
    st.booleans(),
    st.floats(min_value=0.01, max_value=100.0),
)
def test_black_scholes_price_is_homogeneous_of_degree_one_in_spot_and_strike(
    spot: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    is_call: bool,
    scale: float,
) -> None:
    base = black_scholes(spot, strike, time, vol, rate, dividend, is_call)
    scaled = black_scholes(spot * scale, strike * scale, time, vol, rate, dividend, is_call)

    assert scaled.price == pytest.approx(float(base.price) * scale, rel=1e-9, abs=1e-12 * scale)
    assert scaled.delta == pytest.approx(float(base.delta), rel=1e-9, abs=1e-12)


@PROPERTIES
@given(spots, spots, strikes, times, vols, rates, dividends)
def test_black_scholes_put_price_nonincreasing_in_spot(
    spot_a: float,
    spot_b: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
) -> None:
    low, high = sorted((spot_a, spot_b))
    prices = black_scholes(np.array([low, high]), strike, time, vol, rate, dividend, False).price

    assert prices[1] <= prices[0] + 1e-12 * (high + strike)


@PROPERTIES
@given(spots, strikes, times, vols, rates, dividends)
def test_black_scholes_put_within_no_arbitrage_bounds(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float
) -> None:
    put = black_scholes(spot, strike, time, vol, rate, dividend, False)

    discounted_strike = strike * math.exp(-rate * time)
    lower = max(discounted_strike - spot * math.exp(-dividend * time), 0.0)
    slack = 1e-12 * (spot + strike)
    assert lower - slack <= put.price <= discounted_strike + slack
