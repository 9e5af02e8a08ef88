"""`recovery`: time to ready after a start with a long history on the topics.

`FILLS` client option fills (10 books, 20 contracts on one underlying) and `ORDERS` hedge
orders are on the fill and order topics, and the group has committed the end of the fills
(as a service that handled them leaves it), when `HedgerService` starts on Apache Kafka:
timed from `run()` to ready. Twice: the first start finds no snapshot and rebuilds its books
from every fill and order (`without_snapshot_s`, what a start cost before snapshots), then
writes a snapshot; the second reads that snapshot and the (empty) tail after it.

Baseline: a bare consumer reading the same two topics to their end (`getmany` +
`orjson.loads`): what reading the history costs before anything is done with it.
ratio = ours / bare, in seconds (lower is better). Also the resident memory the rebuilt
state holds (the process's resident set after the rebuild, less before it).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from confluent_kafka import Producer

from benchmarks.timing import progress, ratio
from hedger.adapters.apache_kafka import ApacheKafka
from hedger.adapters.embedded_broker import free_port
from hedger.adapters.kafka import all_partitions
from hedger.adapters.topics import ensure_topics, highwaters
from hedger.codec import encode_fill, encode_order, encode_tick
from hedger.config import Settings
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.events import FillReport, PriceTick, Side
from hedger.core.instruments import OptionContract
from hedger.runtime import HedgerService

FILLS = 1_000_000
ORDERS = 100_000
BOOKS = 10
SYMBOL = "XYZ"
DEADLINE_S = 600.0
START_NS = time.time_ns() - 86_400 * 1_000_000_000  # a day of history
EXPIRY = (dt.datetime.fromtimestamp(START_NS / 1e9, dt.UTC) + dt.timedelta(days=90)).date()
CONTRACTS = [
    OptionContract(SYMBOL, EXPIRY, is_call, float(strike))
    for strike in range(80, 130, 5)
    for is_call in (True, False)
]


def settings(bootstrap: str) -> Settings:
    return Settings(
        kafka_bootstrap=bootstrap,
        http_host="127.0.0.1",
        metrics_port=free_port(),
        prices_topic="bench.recovery.prices",
        fills_topic="bench.recovery.fills",
        orders_topic="bench.recovery.orders",
        dlq_topic="bench.recovery.dlq",
        control_topic="bench.recovery.control",
        snapshot_topic="bench.recovery.snapshots",
        group_id="bench-recovery",
        instance_id="bench",
        log_level="WARNING",
    )


def history(config: Settings) -> None:
    """Write the fills, orders and a tick with librdkafka (a million records in seconds)."""
    producer = Producer({"bootstrap.servers": config.require_bootstrap(), "linger.ms": 20})
    step_ns = 86_000 * 1_000_000_000 // FILLS
    for index in range(FILLS):
        book = f"book-{index % BOOKS}"
        fill = FillReport(
            f"F-{index}",
            book,
            CONTRACTS[index % len(CONTRACTS)].occ_symbol,
            Side.BUY if index % 3 else Side.SELL,
            1 + index % 7,
            2.5,
            START_NS + index * step_ns,
        )
        _produce(producer, config.fills_topic, encode_fill(fill), book)
    for index in range(ORDERS):
        book = f"book-{index % BOOKS}"
        order = SubmitHedgeOrder(
            order_id=f"H-{index}",
            book=book,
            symbol=SYMBOL,
            side=Side.SELL if index % 2 else Side.BUY,
            qty=100.0,
            ts_ns=START_NS + index * step_ns * (FILLS // ORDERS),
            ref_price=100.0,
            reason="band",
            delta_before=150.0,
            target_delta=0.0,
            policy="band",
            trigger=f"fill:F-{index}",
        )
        _produce(producer, config.orders_topic, encode_order(order), book)
    tick = PriceTick(SYMBOL, START_NS + 86_000 * 1_000_000_000, 99.99, 100.01, None, 100.0)
    _produce(producer, config.prices_topic, encode_tick(tick), SYMBOL)
    if producer.flush(DEADLINE_S):
        raise RuntimeError("the history was not all acknowledged")


def _produce(producer: Producer, topic: str, value: bytes, key: str) -> None:
    while True:
        try:
            producer.produce(topic, value, key.encode())
            return
        except BufferError:  # the local queue is full: let deliveries drain it
            producer.poll(0.1)


async def commit_history(config: Settings) -> None:
    """Commit the topics' ends, as a service that handled them all would have."""
    bootstrap = config.require_bootstrap()
    fills = AIOKafkaConsumer(
        config.fills_topic, bootstrap_servers=bootstrap, group_id=config.group_id
    )
    await fills.start()
    try:
        while not fills.assignment():
            await fills.getmany(timeout_ms=100)
        ends = await highwaters(bootstrap, config.fills_topic)
        await fills.commit({TopicPartition(config.fills_topic, p): e for p, e in ends.items()})
    finally:
        await fills.stop()
    own_group = f"{config.group_id}.prices.{config.instance_id}"
    prices = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=own_group)
    await prices.start()
    try:
        partitions = await all_partitions(prices, config.prices_topic)
        prices.assign(partitions)
        ends = await highwaters(bootstrap, config.prices_topic)
        await prices.commit({tp: ends[tp.partition] for tp in partitions})
    finally:
        await prices.stop()


async def bare_read(config: Settings) -> float:
    """Seconds to read the fill and order topics to their end and parse every record."""
    bootstrap = config.require_bootstrap()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        began = time.perf_counter()
        targets = {}
        for topic in (config.fills_topic, config.orders_topic):
            ends = await highwaters(bootstrap, topic)
            targets.update({TopicPartition(topic, p): end for p, end in ends.items()})
        consumer.assign(list(targets))
        await consumer.seek_to_beginning(*targets)
        remaining = dict(targets)
        while remaining:
            for tp, records in (await consumer.getmany(*remaining, timeout_ms=200)).items():
                for record in records:
                    orjson.loads(record.value or b"")
                if await consumer.position(tp) >= remaining[tp]:
                    del remaining[tp]
        return time.perf_counter() - began
    finally:
        await consumer.stop()


async def time_to_ready(config: Settings) -> tuple[float, float, HedgerService]:
    """Seconds from `run()` to ready, and the MiB of resident memory gained meanwhile; the
    service, stopped after it wrote the snapshot a rebuild is followed by."""
    service = HedgerService(config)
    stop = asyncio.Event()
    rss_before = _rss_mib()
    began = time.perf_counter()
    task = asyncio.create_task(service.run(stop))
    try:
        while not service.ready:  # polled: readiness is the one sign of the rebuild's end
            if task.done():
                await task
            await asyncio.sleep(0.005)
        elapsed, rss_after = time.perf_counter() - began, _rss_mib()
        while not service.metrics.snapshot_bytes._value.get():
            if task.done():
                await task
            await asyncio.sleep(0.005)
    finally:
        stop.set()
        await task
    return elapsed, rss_after - rss_before, service


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 2**20


async def measure(bootstrap: str) -> dict[str, Any]:
    config = settings(bootstrap)
    await ensure_topics(bootstrap, config.topics)
    began = time.perf_counter()
    history(config)
    progress(f"recovery: history written in {time.perf_counter() - began:.1f} s")
    await commit_history(config)
    await bare_read(config)  # warm-up: page cache, connections
    bare = min([await bare_read(config) for _ in range(3)])
    # The first start finds no snapshot and reads the whole history (as before snapshots);
    # the second reads the snapshot the first wrote after its rebuild.
    replayed, _, first = await time_to_ready(config)
    ours, rss_mib, _ = await time_to_ready(config)
    return {
        "name": f"recovery[fills={FILLS},orders={ORDERS},broker=apache_kafka]",
        "ours": {
            "time_to_ready_s": round(ours, 2),
            "rss_gained_mib": round(rss_mib, 1),
            "without_snapshot_s": round(replayed, 2),
            "snapshot_mib": round(first.metrics.snapshot_bytes._value.get() / 2**20, 1),
            "snapshot_write_s": round(first.metrics.snapshot_write_seconds._value.get(), 2),
        },
        "baseline": {"read_s": round(bare, 2), "what": "bare getmany + orjson.loads, best of 3"},
        "ratio": ratio(ours, bare),
    }


def run() -> list[dict[str, Any]]:
    progress(f"recovery: {FILLS:,} fills and {ORDERS:,} orders in history, time to ready")
    with ApacheKafka() as bootstrap:
        return [asyncio.run(asyncio.wait_for(measure(bootstrap), DEADLINE_S))]
