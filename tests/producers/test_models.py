"""The path models' statistics against their closed forms, within sampling error for a seed.

Each check allows four standard errors (estimated from the sample itself), so a correct
model fails it with odds below one in ten thousand, while a wrong drift, variance or
compensator is off by many standard errors at these sample sizes.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from producers.models import GeometricBrownianMotion, Heston, MertonJumpDiffusion

Z = 4.0


def mean_within(sample: np.ndarray, expected: float, bias: float = 0.0) -> bool:
    error = float(np.std(sample, ddof=1)) / math.sqrt(sample.size)
    return abs(float(np.mean(sample)) - expected) <= Z * error + bias


def variance_within(sample: np.ndarray, expected: float) -> bool:
    deviations = (sample - np.mean(sample)) ** 2
    error = float(np.std(deviations, ddof=1)) / math.sqrt(sample.size)
    return abs(float(np.mean(deviations)) - expected) <= Z * error


def test_gbm_log_returns_have_textbook_mean_and_variance() -> None:
    model = GeometricBrownianMotion(drift=0.10, vol=0.30)
    dt = 1 / 252
    paths = model.simulate(100.0, dt, 50, 20_000, np.random.default_rng(1))
    log_returns = np.diff(np.log(paths.prices), axis=1).ravel()
    assert mean_within(log_returns, (0.10 - 0.5 * 0.30**2) * dt)
    assert variance_within(log_returns, 0.30**2 * dt)
    assert np.all(paths.prices[:, 0] == 100.0)
    assert paths.prices.shape == (20_000, 51)


def test_gbm_wrong_drift_would_be_caught() -> None:
    # The check above has power: the same sample against a drift of 0.3 fails it.
    model = GeometricBrownianMotion(drift=0.10, vol=0.30)
    dt = 1 / 252
    paths = model.simulate(100.0, dt, 50, 20_000, np.random.default_rng(1))
    log_returns = np.diff(np.log(paths.prices), axis=1).ravel()
    assert not mean_within(log_returns, (0.30 - 0.5 * 0.30**2) * dt)


@pytest.mark.parametrize("initial_variance", [0.09, 0.01])
def test_heston_mean_variance_reverts_to_long_run_level(initial_variance: float) -> None:
    theta, kappa = 0.04, 3.0
    model = Heston(0.0, initial_variance, theta, kappa, vol_of_variance=0.4, correlation=-0.7)
    steps_per_year = 365
    paths = model.simulate(
        100.0, 1 / steps_per_year, steps_per_year, 20_000, np.random.default_rng(2)
    )
    for years in (0.25, 0.5, 1.0):
        expected = theta + (initial_variance - theta) * math.exp(-kappa * years)
        column = paths.variances[:, round(years * steps_per_year)]
        # Full-truncation Euler is biased by O(dt): allow 2% of the level for it.
        assert mean_within(column, expected, bias=0.02 * expected), years
    final = paths.variances[:, -1]
    assert abs(float(np.mean(final)) - theta) < abs(initial_variance - theta) * 0.1


def test_heston_prices_have_price_drift_and_correlated_variance() -> None:
    model = Heston(0.05, 0.04, 0.04, 2.0, vol_of_variance=0.5, correlation=-0.9)
    paths = model.simulate(100.0, 1 / 365, 365, 20_000, np.random.default_rng(3))
    assert mean_within(paths.prices[:, -1] / 100.0, math.exp(0.05))
    moves = np.diff(np.log(paths.prices), axis=1).ravel()
    variance_moves = np.diff(paths.variances, axis=1).ravel()
    assert np.corrcoef(moves, variance_moves)[0, 1] < -0.8


def test_merton_log_return_moments_and_compensated_mean_price() -> None:
    drift, vol, intensity, jump_mean, jump_vol = 0.05, 0.2, 3.0, -0.05, 0.1
    model = MertonJumpDiffusion(drift, vol, intensity, jump_mean, jump_vol)
    years, steps = 1.0, 50
    paths = model.simulate(100.0, years / steps, steps, 40_000, np.random.default_rng(4))
    log_return = np.log(paths.prices[:, -1] / 100.0)
    k = math.exp(jump_mean + 0.5 * jump_vol**2) - 1
    expected_mean = (drift - intensity * k - 0.5 * vol**2) * years + intensity * years * jump_mean
    expected_variance = (vol**2 + intensity * (jump_mean**2 + jump_vol**2)) * years
    assert mean_within(log_return, expected_mean)
    assert variance_within(log_return, expected_variance)
    assert mean_within(paths.prices[:, -1] / 100.0, math.exp(drift * years))
    assert model.variance == pytest.approx(expected_variance / years)


def test_models_same_seed_same_paths_other_seed_other_paths() -> None:
    model = MertonJumpDiffusion(0.0, 0.3, 5.0, -0.02, 0.05)
    first = model.simulate(50.0, 0.01, 20, 3, np.random.default_rng(7)).prices
    again = model.simulate(50.0, 0.01, 20, 3, np.random.default_rng(7)).prices
    other = model.simulate(50.0, 0.01, 20, 3, np.random.default_rng(8)).prices
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    "build",
    [
        lambda: GeometricBrownianMotion(0.0, -0.1),
        lambda: Heston(0.0, 0.04, 0.04, 1.0, 0.3, correlation=1.5),
        lambda: MertonJumpDiffusion(0.0, 0.2, -1.0, 0.0, 0.1),
    ],
)
def test_models_invalid_parameters_refused(build: object) -> None:
    with pytest.raises(ValueError, match="invalid"):
        build()  # type: ignore[operator]


def test_simulate_bad_grid_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        GeometricBrownianMotion(0.0, 0.2).simulate(100.0, 0.0, 10, 1, np.random.default_rng(0))
