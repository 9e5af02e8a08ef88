"""The input streams' merge on a real broker, where what it waits for is in aiokafka's hands.

A fill written before a tick is handed out before it, even when the fill's partition
looked drained as of its last fetch.

aiokafka fetches a node's partitions in one request and holds that node's next fetch back
(100 ms) while any of its partitions has records not yet taken. Here fill partition 0 has
more records than a batch takes, so for that while partition 1's known end is stale: a
fill written to it, then a tick, find partition 1 looking drained when the tick is
fetched. The input streams must ask the broker where partition 1 ends before the tick
passes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from hedger.adapters.delivery import DeliveryMode
from hedger.adapters.input_decoding import Decoded
from hedger.adapters.inputs import InputStreams
from hedger.adapters.kafka import make_producer
from hedger.codec import encode_fill, encode_tick
from hedger.config import Settings
from hedger.core.events import FillReport, PriceTick, Side
from tests.integration.harness import hedger_settings, started

pytestmark = pytest.mark.broker

SECOND = 1_000_000_000
OPTION = "XYZ   270618C00100000"


async def test_a_fill_written_before_a_tick_is_handed_out_first(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, partitions=2, batch_max_records=2
    )
    start_ns = time.time_ns() - 3600 * SECOND
    feed_producer = make_producer(kafka_bootstrap, "test-feed")
    async with started(feed_producer) as feed, _streams(settings, feed) as streams:
        # Partition 0: fills stamped after the tick, more than a batch takes.
        for n in range(10):
            fill = _fill(f"late-{n}", start_ns + (100 + n) * SECOND)
            await feed.send_and_wait(settings.fills_topic, encode_fill(fill), partition=0)
        handed: list[Decoded] = []
        async with asyncio.timeout(30):
            while not handed:  # the first fetch of partition 0 (so the node's next waits)
                handed += await streams.next_batch()
        early = _fill("early", start_ns + 1 * SECOND)
        await feed.send_and_wait(settings.fills_topic, encode_fill(early), partition=1)
        tick = PriceTick("XYZ", start_ns + 2 * SECOND, 99.99, 100.01, None, 100.0)
        await feed.send_and_wait(settings.prices_topic, encode_tick(tick), partition=0)
        async with asyncio.timeout(30):
            while len(handed) < 12:
                handed += await streams.next_batch()
    names = [getattr(event, "fill_id", type(event).__name__) for _, event in handed]
    assert names.index("early") < names.index("PriceTick"), names


async def test_a_merge_waiting_on_held_back_fills_still_yields_the_event_loop(
    apache_bootstrap: str, topic_prefix: str
) -> None:
    """Ticks back up behind a fill partition whose end is held back (here by an open
    transaction: its records are not readable until it commits). Every batch asked for in
    that state must let the event loop turn: aiokafka fetches, and the service answers HTTP
    and heartbeats, in tasks on that loop. Before the fix every price buffer filled, no
    fetch waited, and the loop spun for good (a crash-restart test stalled on it)."""
    settings = await hedger_settings(
        apache_bootstrap, topic_prefix, partitions=2, batch_max_records=2
    )
    start_ns = time.time_ns() - 3600 * SECOND
    feed_producer = make_producer(apache_bootstrap, "test-feed")
    upstream = make_producer(apache_bootstrap, "test-upstream", transactional_id=topic_prefix)
    loop = asyncio.get_running_loop()
    async with started(feed_producer) as feed, started(upstream):
        for partition in (0, 1):
            for n in range(4):
                tick = PriceTick("XYZ", start_ns + n * SECOND, 99.99, 100.01, None, 100.0)
                await feed.send_and_wait(
                    settings.prices_topic, encode_tick(tick), partition=partition
                )
        await upstream.begin_transaction()
        held = _fill("held", start_ns)
        await upstream.send_and_wait(settings.fills_topic, encode_fill(held), partition=1)
        async with _streams(settings, feed) as streams:
            handed, turned = [], []
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                turns: list[bool] = []
                loop.call_soon(turns.append, True)  # runs only if the loop gets a turn
                handed += await streams.next_batch()
                turned.append(bool(turns))
            assert not handed, "a tick passed a fill partition that was not read to its end"
            # A batch that takes records already fetched need not wait: at most one per
            # record the price buffers can take. Every other batch must let the loop turn.
            room = 2 * settings.batch_max_records
            kept = turned.count(False)
            assert kept <= room, f"{kept} of {len(turned)} batches kept the loop"
            await upstream.commit_transaction()
            async with asyncio.timeout(30):
                while len(handed) < 9:
                    handed += await streams.next_batch()
    names = [getattr(event, "fill_id", type(event).__name__) for _, event in handed]
    assert names[0] == "held", names


def _fill(fill_id: str, ts_ns: int) -> FillReport:
    return FillReport(fill_id, "mm-1", OPTION, Side.BUY, 1, 2.5, ts_ns)


@contextlib.asynccontextmanager
async def _streams(settings: Settings, producer: AIOKafkaProducer) -> AsyncIterator[InputStreams]:
    """Started input streams holding every fill partition, as the service has them after
    its rebuild (nothing committed: both topics read from their start)."""
    streams = InputStreams(settings, time.monotonic)
    async with contextlib.AsyncExitStack() as stack:
        await streams.start(stack, _stop, producer, DeliveryMode.AT_LEAST_ONCE)
        async with asyncio.timeout(30):
            while not streams.fills.assignment():
                await streams.fills.getmany(timeout_ms=100)
        streams.watch.changed = False
        streams.track_fills(streams.fills.assignment())
        yield streams


async def _stop(consumer: AIOKafkaConsumer) -> None:
    await consumer.stop()
