"""Monte Carlo cost of hedging against textbook results.

References: the option's Black-Scholes value from QuantLib (the mean cost of hedging a
written option tends to it, whatever the drift); Kamal & Derman, "When you cannot hedge
continuously" (Goldman Sachs, 1999): the hedging error's standard deviation is about
sqrt(π/4) × vega × σ / √N for an at-the-money option rebalanced N times. The position of
Hull's delta-hedging example (100,000 calls, S = 49, K = 50, r = 5%, μ = 13%, σ = 20%,
20 weeks) serves as a second case.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedger.backtest.montecarlo import OptionPosition, cost_of_hedging, hedging_costs, rebalances
from tests.backtest import quantlib_reference

ATM = OptionPosition(spot=100.0, strike=100.0, maturity=1.0, vol=0.2, quantity=-1.0)
HULL = OptionPosition(
    spot=49.0, strike=50.0, maturity=20 / 52, vol=0.2, rate=0.05, drift=0.13, quantity=-100_000
)


def test_option_price_is_quantlib_black_scholes() -> None:
    expected = quantlib_reference.price(49.0, 50.0, 20 / 52, 0.2, 0.05, 0.0, True)
    assert HULL.price == pytest.approx(expected, rel=1e-10)


def test_mean_cost_of_hedging_a_written_call_is_its_black_scholes_value() -> None:
    (result,) = cost_of_hedging(HULL, [1 / 52 / 4], paths=10_000, seed=1)
    value = 100_000 * quantlib_reference.price(49.0, 50.0, 20 / 52, 0.2, 0.05, 0.0, True)
    standard_error = result.std_cost / math.sqrt(10_000)
    assert abs(result.mean_cost - value) < 4 * standard_error
    assert result.rebalances == 80


def test_long_put_with_dividends_mean_cost_is_minus_its_value() -> None:
    position = OptionPosition(100.0, 95.0, 0.5, 0.3, 0.02, 0.03, 0.08, 10.0, 100.0, False)
    (result,) = cost_of_hedging(position, [0.5 / 200], paths=10_000, seed=2)
    value = 1000 * quantlib_reference.price(100.0, 95.0, 0.5, 0.3, 0.02, 0.03, False)
    assert abs(result.mean_cost + value) < 4 * result.std_cost / 100
    assert result.std_cost_over_price == pytest.approx(result.std_cost / value)


def test_std_of_cost_matches_kamal_derman_for_at_the_money() -> None:
    # vega of an ATM option with r = q = 0 is S √T φ(d1), d1 = σ√T / 2.
    vega_per_unit_vol = 100.0 * math.exp(-0.5 * 0.1**2) / math.sqrt(2 * math.pi)
    for steps in (50, 200):
        (result,) = cost_of_hedging(ATM, [1.0 / steps], paths=10_000, seed=3)
        expected = math.sqrt(math.pi / 4) * vega_per_unit_vol * 0.2 / math.sqrt(steps)
        assert result.std_cost == pytest.approx(expected, rel=0.06), steps


def test_hedging_error_shrinks_like_one_over_root_of_rebalances() -> None:
    intervals = [1 / 10, 1 / 40, 1 / 160, 1 / 640]
    results = cost_of_hedging(ATM, intervals, paths=10_000, seed=4)
    counts = np.log([r.rebalances for r in results])
    errors = np.log([r.std_cost for r in results])
    slope = np.polyfit(counts, errors, 1)[0]
    assert slope == pytest.approx(-0.5, abs=0.05)


def test_proportional_costs_raise_the_mean_cost_by_the_traded_notional() -> None:
    rng_seed, steps = 6, 52
    free = hedging_costs(HULL, steps, 5_000, 0.0, np.random.default_rng(rng_seed))
    costly = hedging_costs(HULL, steps, 5_000, 0.001, np.random.default_rng(rng_seed))
    extra = costly - free
    assert np.all(extra > 0)
    # At least the first hedge and the close: 0.1% of ~52,000 shares at ~49.
    assert float(np.mean(extra)) > 0.001 * 0.5 * 100_000 * 49 * 2 * 0.8


def test_rebalances_rounds_and_refuses_non_positive_interval() -> None:
    assert rebalances(20 / 52, 0.0192) == 20
    assert rebalances(0.1, 1.0) == 1
    with pytest.raises(ValueError, match="positive"):
        rebalances(1.0, 0.0)


def test_option_position_invalid_refused() -> None:
    with pytest.raises(ValueError, match="quantity"):
        OptionPosition(100.0, 100.0, 1.0, 0.2, quantity=0.0)
