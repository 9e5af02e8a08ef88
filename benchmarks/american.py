"""`american`: American options with Greeks (`hedger.core.pricing.american.american_arrays`).

Two books, each priced with price, delta, gamma, vega, theta, rho, vanna, volga, charm:

* distinct: 2,000 options with every (expiry, vol, rate, dividend) different, so every
  option solves its own exercise boundary (QD+ and one Newton step on five nodes, with
  the boundary's derivatives in vol and rate for the Greeks);
* chain: 100,000 options on one underlying at a flat vol: 20 expiries × calls and puts
  × 2,500 strikes, sorted so options sharing a boundary are consecutive (the layout
  `american_arrays` reuses boundaries for).

Options/s, best of N. Baseline: the bare numpy European kernel (`benchmarks.kernel`) on
the same options; ratio = ours / bare options/s (American pricing is an integral
equation, not a closed form: the ratio says how much dearer it is).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.kernel import bare_black_scholes
from benchmarks.timing import best_of, progress, ratio
from hedger.core.pricing.american import american_arrays
from hedger.core.pricing.european import OUTPUTS

REPEATS = 3
DISTINCT = 2_000
EXPIRIES, STRIKES = 20, 2_500


def distinct_options(count: int, seed: int = 5) -> dict[str, np.ndarray]:
    generator = np.random.default_rng(seed)
    spot = generator.uniform(50.0, 150.0, count)
    return {
        "spot": spot,
        "strike": spot * generator.uniform(0.7, 1.3, count),
        "time": generator.uniform(7 / 365, 2.0, count),
        "vol": generator.uniform(0.1, 0.6, count),
        "rate": generator.uniform(0.01, 0.06, count),
        "dividend": generator.uniform(0.0, 0.04, count),
        "sign": np.where(generator.random(count) < 0.5, 1.0, -1.0),
    }


def chain_options() -> dict[str, np.ndarray]:
    times = np.repeat(np.linspace(7 / 365, 2.0, EXPIRIES), 2 * STRIKES)
    signs = np.tile(np.repeat([1.0, -1.0], STRIKES), EXPIRIES)
    strikes = np.tile(np.linspace(60.0, 140.0, STRIKES), 2 * EXPIRIES)
    return {
        "spot": np.array([100.0]),
        "strike": strikes,
        "time": times,
        "vol": np.array([0.25]),
        "rate": np.array([0.04]),
        "dividend": np.array([0.02]),
        "sign": signs,
    }


def measure(name: str, options: dict[str, Any]) -> dict[str, Any]:
    count = max(array.size for array in options.values())
    out = np.empty((OUTPUTS, count))
    spot, strike, time, vol = options["spot"], options["strike"], options["time"], options["vol"]
    rate, dividend, sign = options["rate"], options["dividend"], options["sign"]

    def ours() -> None:
        american_arrays(spot, strike, time, vol, rate, dividend, sign, False, 365.0, out)

    def bare() -> object:
        return bare_black_scholes(spot, strike, time, vol, rate, dividend, sign)

    progress(f"american[{name}]: {count:,} options, best of {REPEATS}")
    ours_rate = count / (best_of(REPEATS, ours) / 1e9)
    bare_rate = count / (best_of(REPEATS, bare) / 1e9)
    return {
        "name": f"american[{name}]",
        "options": count,
        "ours": {"options_per_s": round(ours_rate), "us_per_option": round(1e6 / ours_rate, 3)},
        "baseline": {"options_per_s": round(bare_rate), "kernel": "bare numpy European"},
        "ratio": ratio(ours_rate, bare_rate),
    }


def run() -> list[dict[str, Any]]:
    return [measure("distinct", distinct_options(DISTINCT)), measure("chain", chain_options())]
