"""`montecarlo`: the cost of hedging for 10,000 paths × 100 rebalances, vectorised.

ours: `cost_of_hedging` for one written at-the-money call (S = K = 100, σ = 20%, r = 3%,
one year, rebalanced 100 times), best of 3: paths, deltas, cash flows and discounting.
baseline: the bare numpy work underneath, also best of 3: the same GBM paths
(`standard_normal`, `cumsum`, `exp`) and the bare Black-Scholes kernel
(`benchmarks.kernel`) on the same 10,000 × 100 grid. ratio = ours / baseline time.
Target: ours under 2 s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.kernel import bare_black_scholes
from benchmarks.timing import best_of, progress, ratio
from hedger.backtest.montecarlo import OptionPosition, cost_of_hedging

PATHS = 10_000
REBALANCES = 100
REPEATS = 3
POSITION = OptionPosition(spot=100.0, strike=100.0, maturity=1.0, vol=0.2, rate=0.03)


def _bare() -> None:
    dt = POSITION.maturity / REBALANCES
    normals = np.random.default_rng(1).standard_normal((PATHS, REBALANCES))
    steps = (POSITION.rate - 0.5 * POSITION.vol**2) * dt + POSITION.vol * np.sqrt(dt) * normals
    spots = POSITION.spot * np.exp(np.cumsum(steps, axis=1))
    times = np.asarray(POSITION.maturity - np.arange(REBALANCES) * dt, dtype=np.float64)
    bare_black_scholes(spots, np.full_like(spots, 100.0), times, 0.2, 0.03, 0.0, np.ones(1))


def run() -> list[dict[str, Any]]:
    progress(f"montecarlo: {PATHS:,} paths x {REBALANCES} rebalances, best of {REPEATS}")
    results: list[float] = []

    def ours() -> None:
        (result,) = cost_of_hedging(POSITION, [POSITION.maturity / REBALANCES], PATHS, seed=1)
        results.append(result.std_cost_over_price)

    ours_ns = best_of(REPEATS, ours)
    bare_ns = best_of(REPEATS, _bare)
    return [
        {
            "name": f"montecarlo[paths={PATHS},rebalances={REBALANCES}]",
            "ours": {"seconds": round(ours_ns / 1e9, 4)},
            "baseline": {"seconds": round(bare_ns / 1e9, 4), "what": "bare GBM + BS kernel"},
            "ratio": ratio(ours_ns, bare_ns),
            "std_cost_over_price": round(results[-1], 4),
            "target_seconds": 2.0,
        }
    ]
