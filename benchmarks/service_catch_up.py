"""`service_catch_up`: the live service reading a feed already on the price topic.

The 50,000 ticks of `broker_consume` (one per ms of event time) are on the topic before
`HedgerService` starts, as after a restart or when a recording is replayed at full speed;
one book holds the 100 option positions of `benchmarks.portfolio`, booked by fills, with
the backtest benchmark's band (the delta the book's gamma makes of a 1% move: a few orders
a run, which no exchange fills).
Timed from the end of the service's rebuild (`HedgerService.rebuilt_at_s`), before it
reads a price, to the last price record it counts: msg/s through the whole shell (fetch, decode,
event-time merge, engine, orders, commits, metrics). Best of 3
passes, each a fresh service (its own consumer group and output topics), warm-started as
`hedger run` does.

Baseline: a bare consumer reading the same topic (`getmany` + `orjson.loads`), best of 3,
on the same broker in the same run. ratio = ours / bare. Once on the embedded broker
(Tansu: at least once, no transactions) and once on Apache Kafka (exactly once: each
commit is a transaction), one entry each.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import orjson

from benchmarks.backtest import BAND_MOVE_FRACTION
from benchmarks.broker_consume import (
    BARE_REPEATS,
    MESSAGES,
    TOPIC,
    consume_all,
    message_rate,
    produce,
)
from benchmarks.portfolio import MULTIPLIER, RATE, START_SPOT, VOL, make_portfolio
from benchmarks.timing import progress, ratio
from hedger.adapters.apache_kafka import ApacheKafka
from hedger.adapters.embedded_broker import EmbeddedBroker, free_port
from hedger.adapters.kafka import deliver, make_producer
from hedger.adapters.topics import ensure_topics
from hedger.codec import encode_fill
from hedger.config import Settings
from hedger.runtime import HedgerService
from hedger.warm_start import warm_start

POSITIONS = 100
DEADLINE_S = 120.0


def settings(bootstrap: str, band_shares: float, run: int = 0) -> Settings:
    """Each `run` a service of its own: its own group and output topics, so none reads
    back another's orders (they would be orders sent before a restart)."""
    return Settings(
        kafka_bootstrap=bootstrap,
        http_host="127.0.0.1",
        metrics_port=free_port(),
        prices_topic=TOPIC,
        fills_topic="bench.catch_up.fills",
        orders_topic=f"bench.catch_up.{run}.orders",
        dlq_topic=f"bench.catch_up.{run}.dlq",
        control_topic=f"bench.catch_up.{run}.control",
        snapshot_topic=f"bench.catch_up.{run}.snapshots",
        group_id=f"bench-catch-up-{run}",
        rate=RATE,
        default_vol=VOL,
        default_multiplier=MULTIPLIER,
        band_shares=band_shares,
        merge_wait_ms=0,
        max_tick_age_ms=0,  # the ticks are on the topic before the service starts
    )


async def book_fills(bootstrap: str, topic: str) -> float:
    """Write the portfolio's fills; returns its band (see module docstring)."""
    portfolio = make_portfolio(POSITIONS, 1)
    producer = make_producer(bootstrap, "bench-fills")
    await producer.start()
    try:
        fills = portfolio.fills
        sends = [await producer.send(topic, encode_fill(f), key=f.book.encode()) for f in fills]
        await deliver(sends, timeout_s=DEADLINE_S)
    finally:
        await producer.stop()
    return portfolio.band_shares(move=BAND_MOVE_FRACTION * START_SPOT)


async def service_pass(config: Settings) -> tuple[float, float, str]:
    """msg/s of the service over the whole topic, the hedge orders it sent, and how it
    delivered them (exactly once where the broker has transactions)."""
    warm_start()  # as `hedger run` does before it serves
    service = HedgerService(config)
    registry = service.metrics.registry
    # Only the one counter: the whole registry, collected every 2 ms, ran on the event
    # loop of the service it measures (under cProfile: 0.9 s of a 10.8 s run).
    counter = registry.restricted_registry(["hedger_messages_consumed_total"])

    def consumed() -> float:
        return sum(
            sample.value
            for family in counter.collect()
            for sample in family.samples
            if sample.name == "hedger_messages_consumed_total"
            and sample.labels.get("topic") == config.prices_topic
        )

    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        # From the end of the rebuild, as the service noted it: it reads every price after
        # it (a fresh group). Not from when a poll here sees it ready, nor from its first
        # price counted: the service can fetch and decode a whole fetch before either, and
        # that work was left out of the time.
        await _until(lambda: service.ready)
        began = service.rebuilt_at_s
        await _until(lambda: consumed() >= MESSAGES)
        rate = MESSAGES / (time.time() - began)
    finally:
        stop.set()
        await task
    orders = sum(
        sample.value
        for family in registry.collect()
        if family.name == "hedger_hedge_orders"
        for sample in family.samples
        if sample.name == "hedger_hedge_orders_total"
    )
    return rate, orders, service.delivery.value


async def _until(condition: Callable[[], bool]) -> None:
    # Polled: the service's counter is the only sign of its progress, every 2 ms.
    while True:
        if condition():
            return
        await asyncio.sleep(0.002)


async def measure(broker: str, bootstrap: str) -> dict[str, Any]:
    runs = [settings(bootstrap, 0.0, run) for run in range(BARE_REPEATS)]
    await ensure_topics(bootstrap, runs[0].topics)
    await produce(bootstrap)
    band = await book_fills(bootstrap, runs[0].fills_topic)
    await consume_all(bootstrap, orjson.loads)  # warm-up: connections, page in the code
    bare = max([await consume_all(bootstrap, orjson.loads) for _ in range(BARE_REPEATS)])
    # Best of as many passes as the bare loop's, each a fresh service. Their topics are
    # made after the bare loop ran: with them all on it, Tansu served that loop a third
    # more slowly.
    passes = []
    for config in runs:
        await ensure_topics(bootstrap, config.topics)
        passes.append(await service_pass(replace(config, band_shares=band)))
    ours, orders, delivery = max(passes)
    return {
        "name": f"service_catch_up[broker={broker},messages={MESSAGES},positions={POSITIONS}]",
        "ours": message_rate(ours),
        "orders_sent": orders,
        "delivery": delivery,
        "baseline": {**message_rate(bare), "what": "bare getmany + orjson.loads"},
        "ratio": ratio(ours, bare),
    }


def run() -> list[dict[str, Any]]:
    progress(f"service_catch_up: {MESSAGES:,} ticks on the topic before the service starts")
    results = []
    with EmbeddedBroker() as bootstrap:
        results.append(asyncio.run(asyncio.wait_for(measure("tansu", bootstrap), DEADLINE_S)))
    with ApacheKafka() as bootstrap:
        results.append(
            asyncio.run(asyncio.wait_for(measure("apache_kafka", bootstrap), DEADLINE_S))
        )
    return results
