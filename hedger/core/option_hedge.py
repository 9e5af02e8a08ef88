"""Gamma and vega hedging with listed options: the cheapest trades that bring a book's gamma
and vega inside their target ranges; its delta is then hedged with the underlying.

A mixed-integer linear programme (scipy's HiGHS `milp`): whole contracts n_i of each
hedge option, split into bought and sold parts n_i = b_i − s_i (b, s ≥ 0), minimising
Σ cost_i · (b_i + s_i) — cost_i is half the bid-ask spread times the multiplier plus the
commission, per contract — subject to

    gamma_low ≤ Γ + Σ n_i · γ_i ≤ gamma_high
    vega_low  ≤ V + Σ n_i · ν_i ≤ vega_high

with γ_i, ν_i the gamma and vega of one contract (multiplier included, units of
docs/reference/units.md). The trades' delta Σ n_i · δ_i is added to the book's before the share
hedge, so the share order neutralises the book including the new options.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp

# No hedge needs more contracts than this of one option; it keeps the programme bounded.
_MAX_CONTRACTS = 1e7


@dataclass(frozen=True, slots=True)
class HedgeOption:
    """One listed option usable for hedging, its Greeks per contract (multiplier included)."""

    symbol: str
    delta: float
    gamma: float
    vega: float
    cost_per_contract: float
    price: float  # model price per contract, for the order's reference price


@dataclass(frozen=True, slots=True)
class GreekRanges:
    """Target ranges for the book's gamma (shares per 1.00 move) and vega (per vol point)."""

    gamma: tuple[float, float]
    vega: tuple[float, float]

    def __post_init__(self) -> None:
        for low, high in (self.gamma, self.vega):
            if not (math.isfinite(low) and math.isfinite(high) and low <= high):
                raise ValueError(f"invalid target ranges {self}")

    def contain(self, gamma: float, vega: float) -> bool:
        return self.gamma[0] <= gamma <= self.gamma[1] and self.vega[0] <= vega <= self.vega[1]


@dataclass(frozen=True, slots=True)
class GammaVegaPolicy:
    """A book's gamma/vega hedging on one underlying: the listed options it may trade, the
    target ranges, and its costs. Evaluated on timers, at most once per `every_ns`."""

    options: tuple[str, ...]  # OCC symbols, all on the same underlying
    targets: GreekRanges
    half_spread: float  # currency per unit of underlying (an option's quoted price)
    commission_per_contract: float
    every_ns: int

    def __post_init__(self) -> None:
        costs = (self.half_spread, self.commission_per_contract)
        if not (self.options and all(0 <= c < math.inf for c in costs) and self.every_ns > 0):
            raise ValueError(f"invalid gamma/vega policy {self}")


@dataclass(frozen=True, slots=True)
class OptionHedgePlan:
    contracts: tuple[float, ...]  # signed whole contracts per option, positive buys
    delta: float  # delta the trades add, in shares
    gamma: float  # the book's gamma after the trades
    vega: float  # the book's vega after the trades
    cost: float  # spread and commission paid, currency


def plan_option_hedge(
    gamma: float, vega: float, options: list[HedgeOption], targets: GreekRanges
) -> OptionHedgePlan | None:
    """The cheapest whole-contract trades bringing gamma and vega inside `targets`, or None
    when no combination of `options` can (e.g. a single option for two Greeks)."""
    count = len(options)
    greeks = np.array([[o.gamma for o in options], [o.vega for o in options]])
    costs = np.array([o.cost_per_contract for o in options])
    constraint = LinearConstraint(
        np.hstack([greeks, -greeks]),
        [targets.gamma[0] - gamma, targets.vega[0] - vega],
        [targets.gamma[1] - gamma, targets.vega[1] - vega],
    )
    result = milp(
        c=np.concatenate([costs, costs]),
        constraints=constraint,
        integrality=np.ones(2 * count),
        bounds=Bounds(0.0, _MAX_CONTRACTS),
    )
    if result.x is None:
        return None
    # Integral by construction, up to the solver's tolerance.
    contracts = np.round(result.x[:count] - result.x[count:])
    return OptionHedgePlan(
        contracts=tuple(float(n) + 0.0 for n in contracts),  # + 0.0 turns -0.0 into 0.0
        delta=float(contracts @ np.array([o.delta for o in options])),
        gamma=gamma + float(contracts @ greeks[0]),
        vega=vega + float(contracts @ greeks[1]),
        cost=float(np.abs(contracts) @ costs),
    )
