"""Rebuilding state from Kafka before any order goes out (DESIGN section 4).

The fill topic is the source of truth for positions and the order topic for working
orders, both read from the beginning of the partitions this instance owns: fills up to the
committed offset, prices (once per process) up to the offsets committed with them, so the
state is the one the last committed batch left, and what follows is handled again as live
input, in the same event-time order. The order topic is read to its end: an order decided
on an input at or past those offsets (sent, but not committed, before a crash) is held
(`SentAhead`) instead of being applied, and joins the state just before its input is
handled again: the same decision then finds its id known and is not sent twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from hedger.adapters.kafka import make_consumer
from hedger.adapters.outbox import source_of
from hedger.adapters.topics import highwaters
from hedger.codec import DecodeError
from hedger.control_codec import decode_order_event
from hedger.core.engine import HedgeEngine
from hedger.core.events import HedgeOrderCancelled, HedgeOrderRecorded

log = logging.getLogger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]
RecordHandler = Callable[[Record], Awaitable[None]]
OrderEvent: TypeAlias = HedgeOrderRecorded | HedgeOrderCancelled
# An input record by partition and offset.
Source: TypeAlias = tuple[TopicPartition, int]


class SentAhead:
    """Orders and cancels on the order topic decided on inputs the rebuilt state has not
    handled yet, by the input they were decided on. Each joins the state, as read back,
    just before its input is handled again (`take`): the engine then finds the order it
    would decide already known, working and counted, and sends nothing; the record on the
    topic is what the venue has, whatever the decision would be now."""

    def __init__(self, held: dict[Source, list[OrderEvent]]) -> None:
        self._held = held

    def __len__(self) -> int:
        return len(self._held)

    def holds(self, record: Record) -> bool:
        return _source(record) in self._held

    def take(self, record: Record) -> list[OrderEvent]:
        """What was sent on `record` before the restart, in the order it was sent."""
        return self._held.pop(_source(record), [])


def _source(record: Record) -> Source:
    return TopicPartition(record.topic, record.partition), record.offset


async def read_to(
    consumer: AIOKafkaConsumer,
    targets: dict[TopicPartition, int],
    handle: RecordHandler,
    starts: dict[TopicPartition, int] | None = None,
) -> None:
    """Hand every record from `starts[tp]` (a snapshot's offsets; else the beginning) to
    before `targets[tp]` to `handle`, then leave each position there."""
    starts = starts or {}
    remaining = {tp: end for tp, end in targets.items() if end > starts.get(tp, 0)}
    for tp in targets.keys() - remaining.keys():
        # Nothing to read: handling starts at the target. The consumer may have read past
        # it already (batches of a transaction aborted by fencing, read again now).
        consumer.seek(tp, targets[tp])
    for tp in remaining:
        if tp in starts:
            consumer.seek(tp, starts[tp])
    if remaining.keys() - starts.keys():
        await consumer.seek_to_beginning(*(remaining.keys() - starts.keys()))
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
    bootstrap: str,
    topic: str,
    partitions: set[int],
    engine: HedgeEngine,
    handled_to: dict[TopicPartition, int],
    starts: dict[int, int] | None = None,
    believed: Callable[[Record], Awaitable[bool]] | None = None,
) -> tuple[int, SentAhead, dict[int, int]]:
    """Feed the engine every hedge order (and cancel) on `partitions` of the order topic,
    from `starts` (a snapshot's offsets; else the beginning), decided on an input before
    `handled_to` (per input partition, the first offset the rebuilt state lacks), in
    event-time order across the partitions: each order takes from the rate limits at its
    time, and a token bucket refilled out of time order (partition by partition) is left
    deeply in debt, blocking hedges long after a restart. A record `believed` says no to
    (one the hedger did not sign) has no effect. Returns how many were read, those decided
    on later inputs, held, and the end of each partition read to."""
    ends = await highwaters(bootstrap, topic)
    read_ends = {p: ends.get(p, 0) for p in sorted(partitions)}
    targets = {TopicPartition(topic, p): end for p, end in read_ends.items()}
    begin = {TopicPartition(topic, p): offset for p, offset in (starts or {}).items()}
    if all(end <= begin.get(tp, 0) for tp, end in targets.items()):
        # Also sidesteps an aiokafka bug: stopping a group-less consumer before its first
        # await raises CancelledError from its coordinator's close().
        return 0, SentAhead({}), read_ends
    consumer = make_consumer(bootstrap, "hedger-recovery", None)
    events: list[tuple[int, int, int, OrderEvent]] = []
    held: dict[Source, list[OrderEvent]] = {}

    async def read_order(record: Record) -> None:
        if believed is not None and not await believed(record):
            return
        try:
            event = decode_order_event(record.value or b"")
        except DecodeError as error:
            log.error(
                "unreadable order at %s[%d]@%d: %s", topic, record.partition, record.offset, error
            )
            return
        source = source_of(record.headers)
        if source is not None and source[1] >= handled_to.get(source[0], source[1] + 1):
            held.setdefault(source, []).append(event)
        else:
            events.append((event.ts_ns, record.partition, record.offset, event))

    await consumer.start()
    try:
        consumer.assign(list(targets))
        await read_to(consumer, targets, read_order, begin)
    finally:
        await consumer.stop()
    events.sort(key=lambda entry: entry[:3])
    for *_, event in events:
        engine.handle(event)
    return len(events) + sum(map(len, held.values())), SentAhead(held), read_ends
