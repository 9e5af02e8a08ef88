"""hedger.core.greeks against QuantLib's AnalyticEuropeanEngine as an independent oracle."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from hedger.core.greeks import black_scholes

ql = pytest.importorskip("QuantLib")

SPOTS = (80.0, 100.0, 120.0)
STRIKES = (90.0, 100.0, 110.0)
EXPIRIES_YEARS = (0.05, 0.5, 2.0)
VOLS = (0.1, 0.3, 0.8)
RATES = (0.0, 0.05)
DIVIDEND_YIELDS = (0.0, 0.02)
RELATIVE_TOLERANCE = 1e-9
ABSOLUTE_TOLERANCE = 1e-12

GRID = list(
    itertools.product(SPOTS, STRIKES, EXPIRIES_YEARS, VOLS, RATES, DIVIDEND_YIELDS, (True, False))
)


@dataclass(frozen=True)
class OracleResult:
    time_to_expiry_years: float
    price: float
    delta: float
    gamma: float
    vega_per_unit_vol: float
    theta_per_day: float


@pytest.fixture
def evaluation_date() -> Iterator[Any]:
    settings = ql.Settings.instance()
    previous = settings.evaluationDate
    today = ql.Date(15, ql.January, 2025)
    settings.evaluationDate = today
    yield today
    settings.evaluationDate = previous


def quantlib_european(
    today: Any,
    spot: float,
    strike: float,
    expiry_years: float,
    vol: float,
    rate: float,
    dividend_yield: float,
    is_call: bool,
) -> OracleResult:
    # Maturity on a whole day; T is then read back from QuantLib's own day count so both
    # libraries price exactly the same T (days / 365).
    day_count = ql.Actual365Fixed()
    maturity = today + round(expiry_years * 365)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, dividend_yield, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, rate, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), vol, day_count)
        ),
    )
    option_type = ql.Option.Call if is_call else ql.Option.Put
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(option_type, strike), ql.EuropeanExercise(maturity)
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return OracleResult(
        time_to_expiry_years=day_count.yearFraction(today, maturity),
        price=option.NPV(),
        delta=option.delta(),
        gamma=option.gamma(),
        vega_per_unit_vol=option.vega(),
        # QuantLib 1.44: thetaPerDay() == theta() / 365, theta() = dV/dt per year of
        # time passing — the same sign and day basis as ours.
        theta_per_day=option.thetaPerDay(),
    )


def assert_close(actual: np.ndarray, expected: float, rtol: float, atol: float) -> None:
    np.testing.assert_allclose(float(actual), expected, rtol=rtol, atol=atol)


@pytest.mark.parametrize(
    ("spot", "strike", "expiry_years", "vol", "rate", "dividend_yield", "is_call"), GRID
)
def test_black_scholes_grid_point_matches_quantlib_price_delta_gamma(
    evaluation_date: Any,
    spot: float,
    strike: float,
    expiry_years: float,
    vol: float,
    rate: float,
    dividend_yield: float,
    is_call: bool,
) -> None:
    oracle = quantlib_european(
        evaluation_date, spot, strike, expiry_years, vol, rate, dividend_yield, is_call
    )
    ours = black_scholes(
        spot, strike, oracle.time_to_expiry_years, vol, rate, dividend_yield, is_call
    )
    assert_close(ours.price, oracle.price, RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE)
    assert_close(ours.delta, oracle.delta, RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE)
    assert_close(ours.gamma, oracle.gamma, RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE)


@pytest.mark.parametrize(
    ("spot", "strike", "expiry_years", "vol", "rate", "dividend_yield", "is_call"), GRID
)
def test_black_scholes_grid_point_matches_quantlib_vega_theta(
    evaluation_date: Any,
    spot: float,
    strike: float,
    expiry_years: float,
    vol: float,
    rate: float,
    dividend_yield: float,
    is_call: bool,
) -> None:
    oracle = quantlib_european(
        evaluation_date, spot, strike, expiry_years, vol, rate, dividend_yield, is_call
    )
    ours = black_scholes(
        spot, strike, oracle.time_to_expiry_years, vol, rate, dividend_yield, is_call
    )
    # QuantLib's vega is per 1.0 of vol; ours is per vol point (0.01).
    assert_close(
        ours.vega * 100.0, oracle.vega_per_unit_vol, RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE
    )
    assert_close(ours.theta, oracle.theta_per_day, RELATIVE_TOLERANCE, ABSOLUTE_TOLERANCE)


def test_black_scholes_whole_grid_as_arrays_matches_quantlib_prices(
    evaluation_date: Any,
) -> None:
    oracles = [quantlib_european(evaluation_date, *point) for point in GRID]
    spot, strike, _, vol, rate, dividend_yield, is_call = (
        np.array(c) for c in zip(*GRID, strict=True)
    )
    times = np.array([oracle.time_to_expiry_years for oracle in oracles])

    ours = black_scholes(spot, strike, times, vol, rate, dividend_yield, is_call)

    assert ours.price.shape == (len(GRID),)
    np.testing.assert_allclose(
        ours.price,
        [oracle.price for oracle in oracles],
        rtol=RELATIVE_TOLERANCE,
        atol=ABSOLUTE_TOLERANCE,
    )
    np.testing.assert_allclose(
        ours.delta,
        [oracle.delta for oracle in oracles],
        rtol=RELATIVE_TOLERANCE,
        atol=ABSOLUTE_TOLERANCE,
    )
