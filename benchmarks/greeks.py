"""`greeks`: `hedger.core.greeks.black_scholes` on 1,000,000 European options.

Ours validates its inputs and returns price and eight Greeks (delta, gamma, vega, theta,
rho, vanna, volga, charm); the bare kernel computes price, delta, gamma, vega, theta and rho.

Measures options/s, best of N, for random regular options (calls and puts; spot 50-150,
strike 0.6-1.4 × spot, 1 day to 2 years, vol 5-80 %), against the bare numpy kernel in
`benchmarks.kernel` on the same arrays. ratio = ours / bare (1.0 = no overhead). Also
reports whether both give the same delta to 1e-12 (`agrees`); it never fails on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from benchmarks.kernel import bare_black_scholes
from benchmarks.timing import best_of, progress, ratio
from hedger.core.greeks import black_scholes

OPTIONS = 1_000_000
REPEATS = 5
RATE = 0.03
DIVIDEND_YIELD = 0.01
DELTA_TOLERANCE = 1e-12


def random_options(count: int, seed: int = 7) -> dict[str, np.ndarray]:
    generator = np.random.default_rng(seed)
    spot = generator.uniform(50.0, 150.0, count)
    is_call = generator.random(count) < 0.5
    return {
        "spot": spot,
        "strike": spot * generator.uniform(0.6, 1.4, count),
        "time": generator.uniform(1.0 / 365.0, 2.0, count),
        "vol": generator.uniform(0.05, 0.80, count),
        "is_call": is_call,
        "sign": np.where(is_call, 1.0, -1.0),
    }


def run() -> list[dict[str, Any]]:
    progress(f"greeks: {OPTIONS:,} options, best of {REPEATS}")
    arrays = random_options(OPTIONS)

    def ours() -> Any:
        return black_scholes(
            arrays["spot"],
            arrays["strike"],
            arrays["time"],
            arrays["vol"],
            RATE,
            DIVIDEND_YIELD,
            arrays["is_call"],
        )

    def bare() -> Any:
        return bare_black_scholes(
            arrays["spot"],
            arrays["strike"],
            arrays["time"],
            arrays["vol"],
            RATE,
            DIVIDEND_YIELD,
            arrays["sign"],
        )

    bare_ns = best_of(REPEATS, bare)
    ours_ns = best_of(REPEATS, ours)
    difference = float(np.max(np.abs(ours().delta - bare()[1])))
    ours_rate = OPTIONS / (ours_ns / 1e9)
    bare_rate = OPTIONS / (bare_ns / 1e9)
    return [
        {
            "name": "greeks",
            "options": OPTIONS,
            "ours": {"options_per_s": round(ours_rate), "best_ms": round(ours_ns / 1e6, 2)},
            "baseline": {"options_per_s": round(bare_rate), "best_ms": round(bare_ns / 1e6, 2)},
            "ratio": ratio(ours_rate, bare_rate),
            "agrees": difference <= DELTA_TOLERANCE,
            "max_delta_difference": difference,
        }
    ]
