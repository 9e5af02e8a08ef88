"""`decode`: `hedger.codec.decode_price` on tick messages against bare `orjson.loads`.

20,000 distinct tick messages (bid, ask, symbol, ts; as `encode_tick` writes them) are
decoded in a loop, best of N passes → µs per message; baseline: `orjson.loads` of the same
bytes in the same loop. Per-call median/p99 are also reported, but at ~1 µs per call the
timer's own cost (tens of ns) is a visible part of them; the pass figure is the headline.
ratio = ours / bare µs per message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from benchmarks.portfolio import random_walk_ticks
from benchmarks.timing import best_of, latency_us, progress, ratio, time_each
from hedger.codec import decode_price, encode_tick

MESSAGES = 20_000
REPEATS = 7


def _figures(decode: Callable[[bytes], object], messages: list[bytes]) -> dict[str, Any]:
    def one_pass() -> None:
        for message in messages:
            decode(message)

    best_ns = best_of(REPEATS, one_pass)
    return {
        "us_per_message": round(best_ns / len(messages) / 1_000.0, 4),
        "messages_per_s": round(len(messages) / (best_ns / 1e9)),
        "per_call": latency_us(time_each(decode, messages)),
    }


def run() -> list[dict[str, Any]]:
    progress(f"decode: {MESSAGES:,} tick messages, best of {REPEATS}")
    messages = [encode_tick(tick) for tick in random_walk_ticks(MESSAGES)]
    baseline = _figures(orjson.loads, messages)
    ours = _figures(decode_price, messages)
    return [
        {
            "name": "decode",
            "message_bytes": len(messages[0]),
            "ours": ours,
            "baseline": baseline,
            "ratio": ratio(ours["us_per_message"], baseline["us_per_message"]),
        }
    ]
