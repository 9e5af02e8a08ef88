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
"""

from __future__ import annotations

import math
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

# (positions, books, warm-up ticks, measured ticks)
CASES = ((100, 1, 300, 5_000), (10_000, 50, 50, 800))


def measure(positions: int, books: int, warm_up: int, measured: int) -> dict[str, Any]:
    progress(f"engine_tick: {positions:,} positions over {books} books, {measured:,} ticks")
    portfolio = make_portfolio(positions, books)
    ticks = random_walk_ticks(warm_up + measured)
    to_greeks = _engine_latency(live_engine(portfolio, math.inf), ticks, warm_up, [])
    actions: list[int] = []
    ours = _engine_latency(live_engine(portfolio), ticks, warm_up, actions)
    time_years = portfolio.time_years(START_NS)

    def bare(tick: PriceTick) -> object:
        return bare_black_scholes(
            tick.mark, portfolio.strike, time_years, VOL, RATE, 0.0, portfolio.sign
        )

    for tick in ticks[:warm_up]:
        bare(tick)
    baseline = latency_us(time_each(bare, ticks[warm_up:]))
    counts = np.asarray(actions)
    return {
        "name": f"engine_tick[positions={positions},books={books}]",
        "positions": positions,
        "books": books,
        "to_greeks": to_greeks,
        "to_greeks_ratio": ratio(to_greeks["median_us"], baseline["median_us"]),
        "ours": ours,
        "baseline": baseline,
        "ratio": ratio(ours["median_us"], baseline["median_us"]),
        "overhead_median_us": round(ours["median_us"] - baseline["median_us"], 3),
        "ticks_with_orders": round(float(np.mean(counts > 0)), 4),
        "orders_per_tick": round(float(np.mean(counts)), 4),
    }


def _engine_latency(
    engine: HedgeEngine, ticks: list[PriceTick], warm_up: int, orders: list[int]
) -> dict[str, float]:
    for tick in ticks[:warm_up]:
        engine.handle(tick)

    def handle(tick: PriceTick) -> None:
        orders.append(sum(isinstance(a, SubmitHedgeOrder) for a in engine.handle(tick)))

    return latency_us(time_each(handle, ticks[warm_up:]))


def run() -> list[dict[str, Any]]:
    return [measure(*case) for case in CASES]
