"""Price path models, vectorised across paths: geometric Brownian motion, Heston, Merton.

Each model's `simulate(spot, dt_years, steps, paths, rng)` returns `Paths`: prices and
instantaneous variances as (paths, steps + 1) arrays, column 0 being the start. Time is in
years; `drift` is the expected growth rate of the price (E[S_t] = S_0 e^{drift·t} for every
model), volatilities are annual decimals.

* GBM, exact: S_{t+dt} = S_t exp((μ − σ²/2) dt + σ √dt Z).
* Heston: variance v mean-reverts to `long_run_variance` at speed `mean_reversion` with
  vol of variance `vol_of_variance` and price/variance correlation `correlation`.
  Full-truncation Euler (Lord, Koekkoek & van Dijk 2010): with v⁺ = max(v, 0),
  v_{t+dt} = v + κ(θ − v⁺) dt + ξ √(v⁺ dt) Z_v and
  S_{t+dt} = S exp((μ − v⁺/2) dt + √(v⁺ dt) Z_S), corr(Z_S, Z_v) = ρ. Its mean variance
  follows E[v_t] = θ + (v_0 − θ) e^{−κt} up to an O(dt) bias.
* Merton jump-diffusion: GBM plus a compound Poisson process of normal log-jumps,
  N ~ Poisson(λ dt) jumps a step with log-size N(μ_J, σ_J²) each; the drift is
  compensated by −λk, k = e^{μ_J + σ_J²/2} − 1. Its variance is σ² + λ(μ_J² + σ_J²).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True, eq=False)
class Paths:
    """Prices and instantaneous annual variances, shape (paths, steps + 1)."""

    prices: FloatArray
    variances: FloatArray


def _check(spot: float, dt_years: float, steps: int, paths: int) -> None:
    if not (spot > 0 and dt_years > 0 and steps >= 0 and paths >= 1):
        raise ValueError("spot and dt must be positive, steps >= 0 and paths >= 1")


def _start(spot: float, log_steps: FloatArray) -> FloatArray:
    paths = log_steps.shape[0]
    log_path = np.concatenate([np.zeros((paths, 1)), np.cumsum(log_steps, axis=1)], axis=1)
    prices: FloatArray = spot * np.exp(log_path)
    return prices


@dataclass(frozen=True, slots=True)
class GeometricBrownianMotion:
    drift: float
    vol: float

    def __post_init__(self) -> None:
        if not (self.vol >= 0 and math.isfinite(self.drift)):
            raise ValueError(f"invalid GBM {self}")

    @property
    def variance(self) -> float:
        return self.vol**2

    def scaled(self, vol_scale: float) -> GeometricBrownianMotion:
        return replace(self, vol=self.vol * vol_scale)

    def simulate(
        self, spot: float, dt_years: float, steps: int, paths: int, rng: np.random.Generator
    ) -> Paths:
        _check(spot, dt_years, steps, paths)
        normals = rng.standard_normal((paths, steps))
        drift = (self.drift - 0.5 * self.variance) * dt_years
        prices = _start(spot, drift + self.vol * math.sqrt(dt_years) * normals)
        return Paths(prices, np.full_like(prices, self.variance))


@dataclass(frozen=True, slots=True)
class Heston:
    drift: float
    initial_variance: float
    long_run_variance: float
    mean_reversion: float
    vol_of_variance: float
    correlation: float

    def __post_init__(self) -> None:
        valid = (
            self.initial_variance >= 0
            and self.long_run_variance >= 0
            and self.mean_reversion >= 0
            and self.vol_of_variance >= 0
            and -1 <= self.correlation <= 1
            and math.isfinite(self.drift)
        )
        if not valid:
            raise ValueError(f"invalid Heston model {self}")

    @property
    def variance(self) -> float:
        return self.initial_variance

    def scaled(self, vol_scale: float) -> Heston:
        factor = vol_scale**2
        return replace(
            self,
            initial_variance=self.initial_variance * factor,
            long_run_variance=self.long_run_variance * factor,
        )

    def simulate(
        self, spot: float, dt_years: float, steps: int, paths: int, rng: np.random.Generator
    ) -> Paths:
        _check(spot, dt_years, steps, paths)
        variance_normals = rng.standard_normal((paths, steps))
        independent = rng.standard_normal((paths, steps))
        rho = self.correlation
        price_normals = rho * variance_normals + math.sqrt(1 - rho * rho) * independent
        variances = np.empty((paths, steps + 1))
        variances[:, 0] = self.initial_variance
        log_steps = np.empty((paths, steps))
        sqrt_dt = math.sqrt(dt_years)
        for step in range(steps):
            # The recursion in time is inherently sequential; each step is vectorised.
            positive = np.maximum(variances[:, step], 0.0)
            root = np.sqrt(positive) * sqrt_dt
            log_steps[:, step] = (self.drift - 0.5 * positive) * dt_years + root * price_normals[
                :, step
            ]
            reverting = self.mean_reversion * (self.long_run_variance - positive) * dt_years
            variances[:, step + 1] = (
                variances[:, step]
                + reverting
                + self.vol_of_variance * root * variance_normals[:, step]
            )
        return Paths(_start(spot, log_steps), np.maximum(variances, 0.0))


@dataclass(frozen=True, slots=True)
class MertonJumpDiffusion:
    drift: float
    vol: float
    jump_intensity: float
    jump_mean: float
    jump_vol: float

    def __post_init__(self) -> None:
        valid = self.vol >= 0 and self.jump_intensity >= 0 and self.jump_vol >= 0
        if not (valid and math.isfinite(self.drift) and math.isfinite(self.jump_mean)):
            raise ValueError(f"invalid Merton model {self}")

    @property
    def variance(self) -> float:
        return self.vol**2 + self.jump_intensity * (self.jump_mean**2 + self.jump_vol**2)

    def scaled(self, vol_scale: float) -> MertonJumpDiffusion:
        return replace(self, vol=self.vol * vol_scale)

    def simulate(
        self, spot: float, dt_years: float, steps: int, paths: int, rng: np.random.Generator
    ) -> Paths:
        _check(spot, dt_years, steps, paths)
        diffusion = rng.standard_normal((paths, steps))
        jumps = rng.poisson(self.jump_intensity * dt_years, (paths, steps))
        jump_normals = rng.standard_normal((paths, steps))
        compensator = self.jump_intensity * (math.exp(self.jump_mean + 0.5 * self.jump_vol**2) - 1)
        drift = (self.drift - compensator - 0.5 * self.vol**2) * dt_years
        jump_sizes = jumps * self.jump_mean + np.sqrt(jumps) * self.jump_vol * jump_normals
        log_steps = drift + self.vol * math.sqrt(dt_years) * diffusion + jump_sizes
        prices = _start(spot, log_steps)
        return Paths(prices, np.full_like(prices, self.variance))


Model = GeometricBrownianMotion | Heston | MertonJumpDiffusion
