"""Strategies side by side on the same paths, and the statistics that compare them.

Every strategy runs over every path. Per strategy, over the paths (all money in currency):

* final P&L: mean over paths of the P&L at the end.
* outcomes: with two paths or more, each path's final P&L (`basis: paths`); with one path
  (a recording), the P&L changes from one valuation to the next (`basis: intervals`).
* P&L std: standard deviation of the outcomes; hedge effectiveness: 1 − Var(outcomes) /
  Var(outcomes of no hedge), on the same paths and basis.
* 95% CVaR: the mean loss over the worst 5% of outcomes (at least one), positive = loss.
* max drawdown: the largest fall of the P&L curve from its running peak, mean over paths.
* trades (hedge orders), fills, commissions, slippage (against the arrival mark, positive =
  cost) and the P&L attribution (`hedger.core.pnl_attribution`): means per path.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from hedger.backtest.runner import FIRST_REFUSALS, BacktestConfig, PathResult, Refused, run_path
from hedger.backtest.strategies import NONE, Strategy
from hedger.core.events import Event
from hedger.core.pnl_attribution import ATTRIBUTION_TERMS

CVAR_TAIL = 0.05


@dataclass(frozen=True, slots=True)
class StrategySummary:
    """One strategy's statistics over the paths; definitions in the module docstring."""

    strategy: str
    paths: int
    basis: str
    final_pnl: float
    pnl_std: float
    effectiveness: float | None
    cvar_95: float
    max_drawdown: float
    trades: float
    fills: float
    commissions: float
    slippage: float
    attribution: dict[str, float]
    refusals: dict[str, int]
    # Per reason, its first occurrences (the first path's first, then the next path's).
    first_refusals: dict[str, list[Refused]]


@dataclass(slots=True)
class Comparison:
    """Every strategy's path results, in the order the strategies were given."""

    strategies: list[Strategy]
    results: dict[str, list[PathResult]] = field(default_factory=dict)
    # When the paths are windows of one recording: each one's event-time span [start, end).
    windows: list[tuple[int, int]] = field(default_factory=list)

    def summaries(self) -> list[StrategySummary]:
        reference = next((s.name for s in self.strategies if s.kind == NONE), None)
        baseline = _outcomes(self.results[reference]) if reference is not None else None
        return [summarize(self.results[s.name], baseline) for s in self.strategies]


def compare(
    paths: Iterable[Sequence[Event]],
    strategies: Sequence[Strategy],
    config: BacktestConfig,
    advance: Callable[[int], object] | None = None,
) -> Comparison:
    """Run every strategy over every path; `advance(1)` is called after each run (for a
    progress bar)."""
    names = [strategy.name for strategy in strategies]
    if len(set(names)) != len(names):
        raise ValueError(f"strategy names must differ: {names}")
    comparison = Comparison(list(strategies), {name: [] for name in names})
    for events in paths:
        for strategy in strategies:
            comparison.results[strategy.name].append(run_path(events, strategy, config))
            if advance is not None:
                advance(1)
    return comparison


def _outcomes(results: Sequence[PathResult]) -> np.ndarray:
    if len(results) >= 2:
        return np.array([result.final_pnl for result in results])
    pnl = np.array([sample.pnl for sample in results[0].samples]) if results else np.zeros(1)
    return np.diff(pnl) if pnl.size >= 2 else pnl


def max_drawdown(pnl: np.ndarray) -> float:
    """The largest fall from a running peak (the curve starts from 0)."""
    if pnl.size == 0:
        return 0.0
    peaks = np.maximum.accumulate(np.maximum(pnl, 0.0))
    return float(np.max(peaks - pnl))


def conditional_value_at_risk(outcomes: np.ndarray, tail: float = CVAR_TAIL) -> float:
    """Mean loss (positive) over the worst `tail` fraction of outcomes, at least one."""
    worst = np.sort(outcomes)[: max(1, math.ceil(tail * outcomes.size))]
    return float(-np.mean(worst))


def summarize(results: Sequence[PathResult], baseline: np.ndarray | None) -> StrategySummary:
    """Statistics of one strategy's runs; `baseline` is no-hedge's outcomes, if run."""
    outcomes = _outcomes(results)
    variance = float(np.var(outcomes))
    reference = float(np.var(baseline)) if baseline is not None else 0.0
    refusals: Counter[str] = Counter()
    first: dict[str, list[Refused]] = {}
    for result in results:
        refusals.update(result.refusals)
        for reason, seen in result.first_refusals.items():
            kept = first.setdefault(reason, [])
            kept += seen[: FIRST_REFUSALS - len(kept)]
    return StrategySummary(
        strategy=results[0].strategy,
        paths=len(results),
        basis="paths" if len(results) >= 2 else "intervals",
        final_pnl=_mean(result.final_pnl for result in results),
        pnl_std=math.sqrt(variance),
        effectiveness=1.0 - variance / reference if reference > 0 else None,
        cvar_95=conditional_value_at_risk(outcomes),
        max_drawdown=_mean(max_drawdown(np.array([s.pnl for s in r.samples])) for r in results),
        trades=_mean(len(result.orders) for result in results),
        fills=_mean(result.fills for result in results),
        commissions=_mean(result.fees for result in results),
        slippage=_mean(result.slippage for result in results),
        attribution={
            term: _mean(result.attribution[term] for result in results)
            for term in ATTRIBUTION_TERMS
        },
        refusals=dict(sorted(refusals.items())),
        first_refusals={reason: first[reason] for reason in sorted(first)},
    )


def _mean(values: Iterable[float]) -> float:
    return float(np.mean(list(values)))
