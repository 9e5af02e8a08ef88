"""`decisions`: the decision path's cost per tick (policy + controls) next to the Greeks update.

A live engine holds one book of 100 option positions on one underlying
(`benchmarks.portfolio`) and handles a random walk of ticks, one a second of event time
(so the default rate limits and staleness limit are realistic), with a band some ticks
cross, so orders leave. The flip-flop latch is set out of reach: a random walk across a
band of a few shares is exactly the churn it exists to stop, and a latched book's
refusals would be all this measured. Within
each tick the time spent in the decision path — the price guard's look at the tick, the
policy's band and quantity, the pre-trade controls and throttle, and counting the order
as working — and the time of the same tick's Greeks update (revaluing the 100 positions)
are timed separately, by timing wrappers on those engine parts. ratio = decision median /
Greeks median: the decision's share of what the tick costs beyond dispatch.

Cases: the plain band; the plain band with a tick every millisecond, where the rate limit
refuses nearly every decision (the refusal path, taken on every tick until tokens come
back); and Whalley–Wilmott with Leland's vol and a loss limit, whose decision revalues the
book once more (at Leland's vol) and sums its P&L on every order.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
import numpy as np

from benchmarks.portfolio import MULTIPLIER, RATE, START_NS, VOL, make_portfolio, random_walk_ticks
from benchmarks.timing import latency_us, progress, ratio
from hedger.core.actions import HedgeDenied, SubmitHedgeOrder
from hedger.core.controls import BookLimits, ControlLimits
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import RecoveryCompleted
from hedger.core.policy import BandPolicy, BandWidth

POSITIONS, WARM_UP, MEASURED = 100, 300, 5_000
SECOND_NS, MILLISECOND_NS = 1_000_000_000, 1_000_000


class Stopwatch:
    """Adds up the time spent in wrapped calls since the last `lap`."""

    def __init__(self) -> None:
        self.elapsed_ns = 0

    def wrap(self, call: Callable[..., Any]) -> Callable[..., Any]:
        clock = time.perf_counter_ns

        def timed(*args: Any, **kwargs: Any) -> Any:
            began = clock()
            try:
                return call(*args, **kwargs)
            finally:
                self.elapsed_ns += clock() - began

        return timed

    def lap(self) -> int:
        elapsed, self.elapsed_ns = self.elapsed_ns, 0
        return elapsed


def engine_for(policy: BandPolicy, limits: BookLimits) -> HedgeEngine:
    portfolio = make_portfolio(POSITIONS, 1)
    config = EngineConfig(
        policy=dataclasses.replace(policy, band_shares=portfolio.band_shares()),
        rate=RATE,
        default_vol=VOL,
        default_multiplier=MULTIPLIER,
        limits=limits,
        controls=ControlLimits(latch_reversals=1_000_000),
    )
    engine = HedgeEngine(config)
    for fill in portfolio.fills:
        engine.handle(fill)
    engine.handle(RecoveryCompleted(ts_ns=START_NS))
    return engine


def measure(
    name: str, policy: BandPolicy, limits: BookLimits, tick_every_ns: int = SECOND_NS
) -> dict[str, Any]:
    progress(f"decisions: {name}, {POSITIONS} positions, {MEASURED:,} ticks")
    engine = engine_for(policy, limits)
    decision, greeks = Stopwatch(), Stopwatch()
    # Instance attributes shadow the methods: only this engine's calls are timed.
    engine.desk.decide = decision.wrap(engine.desk.decide)  # type: ignore[method-assign]
    guard = engine.controls.guard
    guard.observe = decision.wrap(guard.observe)  # type: ignore[method-assign]
    engine.revaluation.revalue = greeks.wrap(engine.revaluation.revalue)  # type: ignore[method-assign]
    ticks = [
        msgspec.structs.replace(tick, ts_ns=START_NS + (index + 1) * tick_every_ns)
        for index, tick in enumerate(random_walk_ticks(WARM_UP + MEASURED))
    ]
    decision_ns: list[int] = []
    greeks_ns: list[int] = []
    outcomes: list[str] = []
    for index, tick in enumerate(ticks):
        actions = engine.handle(tick)
        spent_deciding, spent_revaluing = decision.lap(), greeks.lap()
        if index >= WARM_UP:
            decision_ns.append(spent_deciding)
            greeks_ns.append(spent_revaluing)
            outcomes.append(_outcome(actions))
    ours, baseline = latency_us(decision_ns), latency_us(greeks_ns)
    kinds = np.asarray(outcomes)
    return {
        "name": f"decisions[{name},positions={POSITIONS}]",
        "positions": POSITIONS,
        "decision": ours,
        "greeks_update": baseline,
        "ratio": ratio(ours["median_us"], baseline["median_us"]),
        "ticks_with_orders": round(float(np.mean(kinds == "order")), 4),
        "ticks_with_refusals": round(float(np.mean(kinds == "refusal")), 4),
    }


def _outcome(actions: Sequence[object]) -> str:
    if any(isinstance(a, SubmitHedgeOrder) for a in actions):
        return "order"
    if any(isinstance(a, HedgeDenied) for a in actions):
        return "refusal"
    return "none"


def run() -> list[dict[str, Any]]:
    whalley_wilmott = BandPolicy(
        band_shares=0.0,
        width=BandWidth.WHALLEY_WILMOTT,
        cost_fraction=0.0005,
        risk_aversion=4.0,  # a band of about the plain case's width for this book
        leland_cost=0.001,
        leland_interval_ns=60_000_000_000,
        name="whalley_wilmott",
    )
    return [
        measure("band", BandPolicy(band_shares=0.0), BookLimits()),
        measure("band,tick_every_ms", BandPolicy(band_shares=0.0), BookLimits(), MILLISECOND_NS),
        measure("whalley_wilmott+leland+loss_limit", whalley_wilmott, BookLimits(loss_limit=1e12)),
    ]
