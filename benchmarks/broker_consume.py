"""`broker_consume`: consume throughput through the embedded Tansu broker.

50,000 tick messages are produced once to a one-partition topic. Then each pass reads all
of them from the start with a fresh `make_consumer` consumer (`getmany` loop, timed from
the first fetch to the last record; start-up and seek are not timed):

* baseline: bare consume + `orjson.loads` of each value → msg/s;
* ours: the same consume + `decode_price` + `engine.handle` on a live engine holding
  100 option positions on that underlying (one book) → msg/s.

Bare: best of 3 passes after a warm-up pass. Ours: one pass (≈15 s at ~3k msg/s) after
an in-memory warm-up, to keep the benchmark near 30 s. ratio = ours / bare msg/s. Order
sending and commits are not included: this is the per-tick input path only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from aiokafka import TopicPartition

from benchmarks.portfolio import SYMBOL, live_engine, make_portfolio, random_walk_ticks
from benchmarks.timing import progress, ratio
from hedger.adapters.embedded_broker import EmbeddedBroker
from hedger.adapters.kafka import deliver, make_consumer, make_producer
from hedger.adapters.topics import ensure_topics
from hedger.codec import decode_price, encode_tick
from hedger.core.actions import SubmitHedgeOrder

TOPIC = "bench.prices"
MESSAGES = 50_000
POSITIONS = 100
BARE_REPEATS = 3
WARM_UP_MESSAGES = 1_000
PRODUCE_BATCH = 1_000
DEADLINE_S = 60.0


async def produce(bootstrap: str) -> float:
    """Write MESSAGES ticks to TOPIC; returns msg/s."""
    messages = [encode_tick(tick) for tick in random_walk_ticks(MESSAGES)]
    producer = make_producer(bootstrap, "bench-producer")
    await producer.start()
    try:
        began = time.perf_counter_ns()
        for start in range(0, MESSAGES, PRODUCE_BATCH):
            batch = messages[start : start + PRODUCE_BATCH]
            sends = [await producer.send(TOPIC, m, key=SYMBOL.encode()) for m in batch]
            await deliver(sends, timeout_s=DEADLINE_S)
        return MESSAGES / ((time.perf_counter_ns() - began) / 1e9)
    finally:
        await producer.stop()


async def consume_all(bootstrap: str, process: Callable[[bytes], object]) -> float:
    """Read every record of TOPIC from offset 0, calling `process` on each; returns msg/s."""
    consumer = make_consumer(bootstrap, "bench-consumer", None)
    partition = TopicPartition(TOPIC, 0)
    await consumer.start()
    try:
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        seen = 0
        began = time.perf_counter_ns()
        while seen < MESSAGES:
            batches = await consumer.getmany(partition, timeout_ms=1_000)
            for records in batches.values():
                for record in records:
                    process(record.value)
                seen += len(records)
        return seen / ((time.perf_counter_ns() - began) / 1e9)
    finally:
        await consumer.stop()


def decode_and_handle(counts: list[int]) -> Callable[[bytes], None]:
    """A fresh live engine's input path; appends the orders sent per message to `counts`."""
    engine = live_engine(make_portfolio(POSITIONS, 1))

    def process(value: bytes) -> None:
        actions = engine.handle(decode_price(value))
        counts.append(sum(isinstance(action, SubmitHedgeOrder) for action in actions))

    return process


async def consume_with_engine(bootstrap: str) -> tuple[float, int]:
    """msg/s of consume + decode + handle, and the hedge orders the engine sent."""
    warm_up = decode_and_handle([])
    for tick in random_walk_ticks(WARM_UP_MESSAGES):
        warm_up(encode_tick(tick))
    # A fresh engine: the one above would drop the replayed ticks as stale.
    counts: list[int] = []
    rate = await consume_all(bootstrap, decode_and_handle(counts))
    return rate, sum(counts)


async def measure(bootstrap: str) -> dict[str, Any]:
    await ensure_topics(bootstrap, [TOPIC])
    produced = await produce(bootstrap)
    await consume_all(bootstrap, orjson.loads)  # warm-up: connections, page in the code
    bare = max([await consume_all(bootstrap, orjson.loads) for _ in range(BARE_REPEATS)])
    ours, orders = await consume_with_engine(bootstrap)
    return {
        "name": "broker_consume",
        "messages": MESSAGES,
        "positions": POSITIONS,
        "ours": {**message_rate(ours), "orders_sent": orders},
        "baseline": message_rate(bare),
        "ratio": ratio(ours, bare),
        "produce_messages_per_s": round(produced),
    }


def message_rate(messages_per_s: float) -> dict[str, float]:
    return {
        "messages_per_s": round(messages_per_s),
        "us_per_message": round(1e6 / messages_per_s, 3),
    }


def run() -> list[dict[str, Any]]:
    progress(f"broker_consume: {MESSAGES:,} ticks through the embedded broker")
    with EmbeddedBroker() as bootstrap:
        return [asyncio.run(asyncio.wait_for(measure(bootstrap), DEADLINE_S * 2))]
