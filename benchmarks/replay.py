"""`replay`: publishing a recording as fast as possible, against a bare aiokafka producer.

50,000 ticks are written once to a JSONL file. Each pass publishes all of them to the
embedded broker, producer start and stop included:

* baseline: a bare loop over the messages already in memory: `await producer.send(topic,
  value, key)` each, acknowledged per 500 with `deliver` (one `make_producer` producer);
* ours: `producers.replay.replay(path, speed=0, batch_size=500)`: reading the file,
  checking every line (each tick against the codec's rules, `producers.fast_tick`),
  routing it, producing it (aiokafka's batch API), acknowledged per 500 too.

Passes alternate (bare, ours) after one warm-up of each; best of 3 each, in msg/s.
ratio = ours / baseline; the target is at least 0.8.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.portfolio import SYMBOL, random_walk_ticks
from benchmarks.timing import progress, ratio
from hedger.adapters.embedded_broker import EmbeddedBroker
from hedger.adapters.kafka import deliver, make_producer
from hedger.adapters.topics import ensure_topics
from hedger.codec import encode_tick
from producers.replay import replay

MESSAGES = 50_000
BATCH = 500
REPEATS = 3
BARE_TOPIC = "bench.replay.bare"
OURS_TOPIC = "bench.replay.ours"
DEADLINE_S = 120.0


async def bare_pass(bootstrap: str, messages: list[bytes]) -> float:
    """msg/s of the bare producer loop."""
    began = time.perf_counter()
    producer = make_producer(bootstrap, "bench-bare-producer")
    await producer.start()
    try:
        key = SYMBOL.encode()
        for start in range(0, len(messages), BATCH):
            batch = messages[start : start + BATCH]
            await deliver([await producer.send(BARE_TOPIC, m, key=key) for m in batch], 30.0)
    finally:
        await producer.stop()
    return len(messages) / (time.perf_counter() - began)


async def ours_pass(bootstrap: str, path: Path) -> float:
    """msg/s of `replay` at speed 0."""
    began = time.perf_counter()
    stats = await replay(
        path, bootstrap, speed=0, prices_topic=OURS_TOPIC, fills_topic=OURS_TOPIC, batch_size=BATCH
    )
    return stats.records_sent / (time.perf_counter() - began)


async def measure(bootstrap: str, path: Path, messages: list[bytes]) -> dict[str, Any]:
    await ensure_topics(bootstrap, [BARE_TOPIC, OURS_TOPIC])
    await bare_pass(bootstrap, messages)  # warm-ups: connections, code paths
    await ours_pass(bootstrap, path)
    bare, ours = [], []
    for _ in range(REPEATS):
        bare.append(await bare_pass(bootstrap, messages))
        ours.append(await ours_pass(bootstrap, path))
    return {
        "name": f"replay[messages={MESSAGES}]",
        "ours": {"messages_per_s": round(max(ours)), "passes": [round(r) for r in ours]},
        "baseline": {"messages_per_s": round(max(bare)), "passes": [round(r) for r in bare]},
        "ratio": ratio(max(ours), max(bare)),
        "target_ratio": 0.8,
    }


def run() -> list[dict[str, Any]]:
    progress(f"replay: {MESSAGES:,} ticks through the embedded broker, best of {REPEATS}")
    messages = [encode_tick(tick) for tick in random_walk_ticks(MESSAGES)]
    with tempfile.TemporaryDirectory() as folder, EmbeddedBroker() as bootstrap:
        path = Path(folder) / "ticks.jsonl"
        path.write_bytes(b"".join(message + b"\n" for message in messages))
        return [asyncio.run(asyncio.wait_for(measure(bootstrap, path, messages), DEADLINE_S))]
