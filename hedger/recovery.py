"""Rebuilding state from Kafka before any order goes out (DESIGN section 4).

The fill topic is the source of truth for positions and the order topic for working
orders: both are read from the beginning of the partitions this instance owns, up to their
current end. Prices are read up to this instance's committed offset, so the last mark and
vol of each underlying are known again, without hedging on any of them.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from hedger.adapters.kafka import make_consumer
from hedger.adapters.topics import highwaters
from hedger.codec import DecodeError
from hedger.control_codec import decode_order_event
from hedger.core.engine import HedgeEngine
from hedger.core.events import HedgeOrderCancelled, HedgeOrderRecorded

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
RecordHandler = Callable[[Record], Awaitable[None]]
OrderEvent: TypeAlias = HedgeOrderRecorded | HedgeOrderCancelled


async def read_to(
    consumer: AIOKafkaConsumer, targets: dict[TopicPartition, int], handle: RecordHandler
) -> None:
    """Hand every record before `targets[tp]` to `handle`, then leave each position there."""
    remaining = {tp: end for tp, end in targets.items() if end > 0}
    if remaining:
        await consumer.seek_to_beginning(*remaining)
    while remaining:
        batch = await consumer.getmany(*remaining, timeout_ms=200)
        for tp, records in batch.items():
            for record in records:
                if record.offset < remaining[tp]:
                    await handle(record)
        for tp, end in list(remaining.items()):
            if await consumer.position(tp) >= end:
                # Records fetched past the target are read again, live, from here.
                consumer.seek(tp, end)
                del remaining[tp]


async def rebuild_orders(
    bootstrap: str, topic: str, partitions: set[int], engine: HedgeEngine
) -> int:
    """Feed the engine every hedge order (and cancel) on `partitions` of the order topic,
    in event-time order across the partitions: each order takes from the rate limits at
    its time, and a token bucket refilled out of time order (partition by partition) is left
    deeply in debt, blocking hedges long after a restart."""
    ends = await highwaters(bootstrap, topic)
    targets = {TopicPartition(topic, p): ends.get(p, 0) for p in sorted(partitions)}
    if not any(targets.values()):
        # Also sidesteps an aiokafka bug: stopping a group-less consumer before its first
        # await raises CancelledError from its coordinator's close().
        return 0
    consumer = make_consumer(bootstrap, "hedger-recovery", None)
    events: list[tuple[int, int, int, OrderEvent]] = []

    async def read_order(record: Record) -> None:
        try:
            event = decode_order_event(record.value or b"")
        except DecodeError as error:
            log.error(
                "unreadable order at %s[%d]@%d: %s", topic, record.partition, record.offset, error
            )
            return
        events.append((event.ts_ns, record.partition, record.offset, event))

    await consumer.start()
    try:
        consumer.assign(list(targets))
        await read_to(consumer, targets, read_order)
    finally:
        await consumer.stop()
    events.sort(key=lambda entry: entry[:3])
    for *_, event in events:
        engine.handle(event)
    return len(events)
