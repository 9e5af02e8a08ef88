"""Measurement helpers: per-call latency percentiles and best-of-N throughput."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np


def progress(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def latency_us(samples_ns: list[int]) -> dict[str, float]:
    """Median and p99 of per-call samples, in microseconds."""
    values = np.asarray(samples_ns, dtype=np.float64) / 1_000.0
    return {
        "median_us": round(float(np.median(values)), 3),
        "p99_us": round(float(np.percentile(values, 99)), 3),
        "samples": len(samples_ns),
    }


def time_each(call: Callable[[Any], object], inputs: list[Any]) -> list[int]:
    """Call `call` once per input, timing each call alone; returns ns per call."""
    samples = []
    clock = time.perf_counter_ns
    gc.collect()
    for item in inputs:
        began = clock()
        call(item)
        samples.append(clock() - began)
    return samples


def best_of(repeats: int, run: Callable[[], object]) -> int:
    """Fastest of `repeats` timed runs of `run`, in ns (after one untimed warm-up run)."""
    run()
    best = sys.maxsize
    for _ in range(repeats):
        gc.collect()
        began = time.perf_counter_ns()
        run()
        best = min(best, time.perf_counter_ns() - began)
    return best


def ratio(ours: float, bare: float) -> float:
    return round(ours / bare, 4) if bare else float("nan")
