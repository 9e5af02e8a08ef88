"""`python -m benchmarks [name ...]`: run benchmarks, print one JSON document to stdout.

Names: greeks, american, engine_tick, decisions, decode, broker_consume, backtest,
montecarlo, replay, service_catch_up, tick_to_order, recovery (default: all, in that
order).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import orjson

from benchmarks import (
    american,
    backtest,
    broker_consume,
    decisions,
    decode,
    engine_tick,
    greeks,
    montecarlo,
    recovery,
    replay,
    service_catch_up,
    tick_to_order,
)
from benchmarks.timing import progress

BENCHMARKS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "greeks": greeks.run,
    "american": american.run,
    "engine_tick": engine_tick.run,
    "decisions": decisions.run,
    "decode": decode.run,
    "broker_consume": broker_consume.run,
    "backtest": backtest.run,
    "montecarlo": montecarlo.run,
    "replay": replay.run,
    "service_catch_up": service_catch_up.run,
    "tick_to_order": tick_to_order.run,
    "recovery": recovery.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="name", help=", ".join(BENCHMARKS))
    names = parser.parse_args(argv).names or list(BENCHMARKS)
    unknown = sorted(set(names) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    began = time.perf_counter()
    results = []
    for name in names:
        started = time.perf_counter()
        results.extend(BENCHMARKS[name]())
        progress(f"{name}: {time.perf_counter() - started:.1f} s")
    document = {
        "machine": _machine(),
        "wall_s": round(time.perf_counter() - began, 2),
        "results": results,
    }
    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    return 0


def _machine() -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "load_average_1m": os.getloadavg()[0],
    }


if __name__ == "__main__":
    sys.exit(main())
