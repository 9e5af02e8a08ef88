"""`engine_tick`: latency of `HedgeEngine.handle(tick)` against the Greeks-only cost.

A live engine (band policy) holds N option positions on one underlying over B books,
booked by FillReport events; a random walk of PriceTicks (σ = 0.02 per tick, band about
3σ of a book's per-tick delta change, so some ticks send orders) is handled one at a time.
Baseline: the bare numpy kernel (`benchmarks.kernel`) on the same N options at each
tick's spot, with fixed times to expiry. Both timed per call: median and p99 in µs.
ratio = ours median / bare median; ours − bare is the fixed per-message overhead
(dispatch, year fractions, validation, per-book sums, policy, order ids).

Two engine figures per case: `to_greeks` is tick → updated book Greeks (the issue's
measure: a band no book crosses, so the decision step finds nothing to do), and
`with_decisions` adds deciding, refusing and sending orders under the default controls
(`benchmarks.decisions` breaks that part down).

Rounds: the three series (to_greeks, ours, bare) are timed in turn, ``ROUNDS`` times over
fresh ticks of the same walk, and each reports its quietest round (lowest median), as the
throughput benchmarks report the best of N runs: on a shared virtual machine the speed of
the host changes by up to 1.6× from one second to the next, which says nothing about the
code. ``all_rounds`` keeps the median and p99 over every sample of every round.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from benchmarks.kernel import bare_black_scholes
from benchmarks.portfolio import (
    RATE,
    START_NS,
    VOL,
    live_engine,
    make_portfolio,
    random_walk_ticks,
)
from benchmarks.timing import latency_us, progress, ratio, time_each
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.engine import HedgeEngine
from hedger.core.events import PriceTick

# (positions, books, warm-up ticks, measured ticks per round)
CASES = ((100, 1, 300, 2_000), (10_000, 50, 50, 300))
ROUNDS = 5


def measure(positions: int, books: int, warm_up: int, measured: int) -> dict[str, Any]:
    progress(
        f"engine_tick: {positions:,} positions over {books} books, "
        f"{ROUNDS} rounds of {measured:,} ticks"
    )
    portfolio = make_portfolio(positions, books)
    ticks = random_walk_ticks(warm_up + ROUNDS * measured)
    time_years = portfolio.time_years(START_NS)

    def bare(tick: PriceTick) -> object:
        return bare_black_scholes(
            tick.mark, portfolio.strike, time_years, VOL, RATE, 0.0, portfolio.sign
        )

    greeks_engine, decisions_engine = live_engine(portfolio, math.inf), live_engine(portfolio)
    orders: list[int] = []
    calls = {
        "to_greeks": greeks_engine.handle,
        "ours": _counting_orders(decisions_engine, orders),
        "baseline": bare,
    }
    for call in calls.values():
        for tick in ticks[:warm_up]:
            call(tick)
    rounds: dict[str, list[list[int]]] = {name: [] for name in calls}
    for start in range(warm_up, len(ticks), measured):
        for name, call in calls.items():
            rounds[name].append(time_each(call, ticks[start : start + measured]))
    figures = {name: _quietest(samples) for name, samples in rounds.items()}
    to_greeks, ours, baseline = figures["to_greeks"], figures["ours"], figures["baseline"]
    counts = np.asarray(orders)
    return {
        "name": f"engine_tick[positions={positions},books={books}]",
        "positions": positions,
        "books": books,
        "rounds": ROUNDS,
        "to_greeks": to_greeks,
        "to_greeks_ratio": ratio(to_greeks["median_us"], baseline["median_us"]),
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio(ours["median_us"], baseline["median_us"]),
        "overhead_median_us": round(ours["median_us"] - baseline["median_us"], 3),
        "ticks_with_orders": round(float(np.mean(counts > 0)), 4),
        "orders_per_tick": round(float(np.mean(counts)), 4),
    }


def _counting_orders(engine: HedgeEngine, orders: list[int]) -> Callable[[PriceTick], None]:
    def handle(tick: PriceTick) -> None:
        orders.append(sum(isinstance(a, SubmitHedgeOrder) for a in engine.handle(tick)))

    return handle


def _quietest(rounds: list[list[int]]) -> dict[str, Any]:
    """The round with the lowest median, with the figures over all rounds beside it."""
    quietest = min((latency_us(samples) for samples in rounds), key=lambda f: f["median_us"])
    everything = latency_us([sample for samples in rounds for sample in samples])
    return {**quietest, "all_rounds": {k: everything[k] for k in ("median_us", "p99_us")}}


def run() -> list[dict[str, Any]]:
    return [measure(*case) for case in CASES]
