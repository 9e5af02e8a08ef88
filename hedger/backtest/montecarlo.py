"""Monte Carlo cost of delta hedging one option position, vectorised across paths.

The price follows geometric Brownian motion with the given `drift` (expected growth of the
price; dividends are paid on top at `dividend_yield`) and `vol`. The position is `quantity`
options (negative = short) of `multiplier` shares each, European, held to `maturity`. It
is delta hedged at N = max(1, round(maturity / interval)) equally spaced times t_i = iT/N,
i = 0..N−1, holding h_i = −quantity × multiplier × Δ_i shares (Black-Scholes delta at the
true vol, rate and dividend yield), and the hedge is closed at T.

The cost of hedging, per path, is the present value at the rate `r` (so financing
interest is included) of every cash flow the hedger pays:

    cost = Σ_{i=0..N} e^{−r t_i} (d_i S_i + c |d_i| S_i − D_i) − e^{−rT} q m payoff(S_T)

with q m = quantity × multiplier, d_i = h_i − h_{i−1} the shares bought at t_i
(h_{−1} = 0, h_N = 0: the close at T), c the proportional `cost_rate`,
D_i = h_{i−1} S_i (e^{q Δt} − 1) the dividends received on the shares held over the step
before t_i, and the option settling in cash at T (a short position pays its payoff, a
long one receives it). For a short position the mean
cost tends to the option's Black-Scholes value as rebalancing gets frequent (a long one's
to minus it); its standard deviation shrinks like 1/√N. `std_cost_over_price` is the
standard deviation over |quantity × multiplier × Black-Scholes price| (Hull's hedge
performance measure).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hedger.core.greeks import black_scholes
from producers.models import GeometricBrownianMotion


@dataclass(frozen=True, slots=True)
class OptionPosition:
    """The position and its market; see the module docstring. Times in years."""

    spot: float
    strike: float
    maturity: float
    vol: float
    rate: float = 0.0
    dividend_yield: float = 0.0
    drift: float = 0.0
    quantity: float = -1.0
    multiplier: float = 1.0
    is_call: bool = True

    def __post_init__(self) -> None:
        positive = (self.spot, self.strike, self.maturity, self.vol, self.multiplier)
        if not all(value > 0 for value in positive) or self.quantity == 0:
            raise ValueError("spot, strike, maturity, vol, multiplier > 0 and quantity != 0")

    @property
    def price(self) -> float:
        """Black-Scholes value of one option (one unit of underlying)."""
        greeks = black_scholes(
            self.spot,
            self.strike,
            self.maturity,
            self.vol,
            self.rate,
            self.dividend_yield,
            self.is_call,
        )
        return float(greeks.price)

    @property
    def units(self) -> float:
        return self.quantity * self.multiplier


@dataclass(frozen=True, slots=True)
class IntervalResult:
    """The distribution of the cost of hedging at one rebalancing interval."""

    interval: float
    rebalances: int
    mean_cost: float
    std_cost: float
    std_cost_over_price: float
    costs: np.ndarray

    def as_json(self) -> dict[str, float | int]:
        return {
            "interval": self.interval,
            "rebalances": self.rebalances,
            "mean_cost": self.mean_cost,
            "std_cost": self.std_cost,
            "std_cost_over_price": self.std_cost_over_price,
        }


def rebalances(maturity: float, interval: float) -> int:
    """N, the number of hedges over the life of the option."""
    if not interval > 0:
        raise ValueError(f"a rebalancing interval must be positive, got {interval!r}")
    return max(1, round(maturity / interval))


def hedging_costs(
    position: OptionPosition, steps: int, paths: int, cost_rate: float, rng: np.random.Generator
) -> np.ndarray:
    """The cost of hedging on each of `paths` paths with `steps` rebalances."""
    if cost_rate < 0 or paths < 1:
        raise ValueError("cost_rate must be >= 0 and paths >= 1")
    dt = position.maturity / steps
    model = GeometricBrownianMotion(position.drift, position.vol)
    spots = model.simulate(position.spot, dt, steps, paths, rng).prices
    times = np.arange(steps + 1) * dt
    deltas = black_scholes(
        spots[:, :steps],
        position.strike,
        position.maturity - times[:steps],
        position.vol,
        position.rate,
        position.dividend_yield,
        position.is_call,
    ).delta
    held = np.zeros((paths, steps + 2))
    held[:, 1 : steps + 1] = -position.units * deltas  # held[:, i + 1] = h_i; h_{-1} = h_N = 0
    bought = np.diff(held, axis=1)
    dividends = held[:, :-1] * spots * math.expm1(position.dividend_yield * dt)
    flows = bought * spots + cost_rate * np.abs(bought) * spots - dividends
    discount = np.exp(-position.rate * times)
    sign = 1.0 if position.is_call else -1.0
    payoff = np.maximum(sign * (spots[:, -1] - position.strike), 0.0)
    settlement = -position.units * payoff * math.exp(-position.rate * position.maturity)
    costs: np.ndarray = flows @ discount + settlement
    return costs


def cost_of_hedging(
    position: OptionPosition, intervals: list[float], paths: int, seed: int, cost_rate: float = 0.0
) -> list[IntervalResult]:
    """The cost distribution for each rebalancing interval (each from a generator seeded
    with `seed`, so every interval sees the same random numbers where their grids allow)."""
    value = abs(position.units * position.price)
    results = []
    for interval in intervals:
        steps = rebalances(position.maturity, interval)
        costs = hedging_costs(position, steps, paths, cost_rate, np.random.default_rng(seed))
        std = float(np.std(costs, ddof=1)) if paths > 1 else 0.0
        results.append(
            IntervalResult(
                interval=interval,
                rebalances=steps,
                mean_cost=float(np.mean(costs)),
                std_cost=std,
                std_cost_over_price=std / value if value > 0 else math.inf,
                costs=costs,
            )
        )
    return results
