"""`backtest`: event-driven backtest throughput over one underlying with a 100-option book.

The book (`benchmarks.portfolio`: 100 positions, one book) and 20,000 ticks one
millisecond apart (σ = 0.02 per tick) go through `run_path` with a band policy, the paper
exchange's cost model in process (half-spread 0.01, $1 an order) and a valuation every
second of event time (every 1,000 ticks). The band is the delta the book's gamma makes of
a 1% move of the underlying, a common rule of thumb: the book re-hedges every few
thousand ticks (a few seconds), inside the default rate limits and flip-flop latch.

* ours: ticks per second of the whole backtest (engine with its P&L, exchange), best of 3;
* engine share: the fraction of a run spent inside the engine (`HedgeEngine.handle` and
  `handle_ticks`, timed per call in a separate run);
* baseline: the bare engine alone, `engine.handle(tick)` over the same ticks with nothing
  else (orders never filled), ticks per second, best of 3.

ratio = ours / baseline ticks per second.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from benchmarks.portfolio import START_SPOT, live_engine, make_portfolio, random_walk_ticks
from benchmarks.timing import best_of, progress, ratio
from hedger.backtest.runner import BacktestConfig, PathResult, PathRun
from hedger.backtest.strategies import configured_strategy
from hedger.core.actions import Action
from hedger.core.engine import HedgeEngine
from hedger.core.events import Event, PriceTick, RecoveryCompleted
from producers.execution import CostModel

POSITIONS = 100
TICKS = 20_000
REPEATS = 3
COSTS = CostModel(half_spread=0.01, commission_per_order=1.0)
BAND_MOVE_FRACTION = 0.01
SAMPLE_INTERVAL_NS = 10**9


class _TimedEngine:
    """Times every `handle` call of the engine it wraps (benchmark only)."""

    def __init__(self, engine: HedgeEngine) -> None:
        self._engine = engine
        self.config = engine.config
        self.market = engine.market
        self.pnl = engine.pnl
        self.seconds = 0.0

    def handle(self, event: Event) -> list[Action]:
        began = time.perf_counter()
        actions = self._engine.handle(event)
        self.seconds += time.perf_counter() - began
        return actions

    def handle_ticks(
        self, ticks: Sequence[PriceTick], start: int, stop: int
    ) -> tuple[int, list[Action]]:
        began = time.perf_counter()
        handled = self._engine.handle_ticks(ticks, start, stop)
        self.seconds += time.perf_counter() - began
        return handled

    def exposures(self) -> Any:
        return self._engine.exposures()


def _config_and_events() -> tuple[BacktestConfig, list[Event]]:
    portfolio = make_portfolio(POSITIONS, 1)
    band = portfolio.band_shares(move=BAND_MOVE_FRACTION * START_SPOT)
    engine_config = live_engine(portfolio, band).config
    events: list[Event] = [*portfolio.fills, *random_walk_ticks(TICKS)]
    config = BacktestConfig(engine_config, COSTS, sample_interval_ns=SAMPLE_INTERVAL_NS)
    return config, events


def run() -> list[dict[str, Any]]:
    progress(f"backtest: {TICKS:,} ticks, {POSITIONS} options, best of {REPEATS}")
    config, events = _config_and_events()
    strategy = configured_strategy(config.engine.policy)
    results: list[PathResult] = []

    def backtest() -> None:
        results.append(PathRun(strategy, config).run(events))

    ours_ns = best_of(REPEATS, backtest)
    timed = PathRun(strategy, config)
    timed.engine = _TimedEngine(timed.engine)  # type: ignore[assignment]
    began = time.perf_counter()
    timed.run(events)
    timed_s = time.perf_counter() - began
    engine_share = timed.engine.seconds / timed_s  # type: ignore[attr-defined]

    def bare() -> None:
        engine = HedgeEngine(config.engine)
        engine.handle(RecoveryCompleted(events[0].ts_ns))  # live, as the backtest's engine
        for event in events:
            engine.handle(event)

    bare_ns = best_of(REPEATS, bare)
    ours_rate, bare_rate = TICKS / (ours_ns / 1e9), TICKS / (bare_ns / 1e9)
    return [
        {
            "name": f"backtest[positions={POSITIONS},ticks={TICKS}]",
            "ours": {"ticks_per_s": round(ours_rate), "us_per_tick": round(1e6 / ours_rate, 2)},
            "engine_share": round(engine_share, 4),
            "orders_per_run": len(results[-1].orders),
            "refusals_per_run": sum(results[-1].refusals.values()),
            "baseline": {
                "ticks_per_s": round(bare_rate),
                "us_per_tick": round(1e6 / bare_rate, 2),
                "what": "bare engine.handle loop over the same events",
            },
            "ratio": ratio(ours_rate, bare_rate),
            "target_ticks_per_s": 100_000,
        }
    ]
