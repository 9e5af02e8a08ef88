"""The two input streams, fills and prices, read together in event time.

Fills come through the consumer group (the books this instance owns, rebuilt on every
assignment); prices through manual assignment of every partition (any book may hold any
underlying). Records are decoded as they arrive and wait in an `EventTimeMerge` until their
turn. A batch's offsets, prices and fills, are committed together in one request under this
instance's own group, then the fills under the shared group (which hands them to the next
owner): a restart resumes both streams from the same batch, even after a crash between
the two commits. When they are committed is `hedger.adapters.commit_schedule`'s.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from hedger.adapters.commit_schedule import AssignmentWatch, CommitSchedule
from hedger.adapters.delivery import Commits, DeliveryMode, OffsetCommits, TransactionalCommits
from hedger.adapters.input_decoding import Decoded, InputDecoding
from hedger.adapters.kafka import all_partitions, make_consumer
from hedger.adapters.merge import EventTimeMerge
from hedger.adapters.metrics import Metrics
from hedger.codec import DecodeError
from hedger.config import Settings
from hedger.core.events import Event
from hedger.recovery import Record

log = logging.getLogger(__name__)

# How long a fetch waits for prices when nothing is buffered: bounds fill latency.
_POLL_MS = 20
# How long the broker may hold an empty fetch of fills. Prices pass the fill stream once its
# last fetch found nothing more, so that answer must be fresh: with aiokafka's 500 ms, a
# replay's fills were passed by seconds of prices.
_FILL_FETCH_MAX_WAIT_MS = 10
# How long the broker may hold a fetch of prices. Tick-to-order latency: the embedded broker
# (Tansu) holds every fetch for its full wait even when ticks arrive meanwhile, so with
# aiokafka's 500 ms a live tick waited 130 ms at the median for its fetch to return. A
# catching-up fetch finds its bytes at once on either broker, so the short wait costs no
# throughput (benchmarks/service_catch_up.py); an idle feed costs one fetch per 5 ms.
_PRICE_FETCH_MAX_WAIT_MS = 5
# How long it waits for a busy stream that ran dry while the other has records buffered.
_DRY_POLL_MS = 5
# How long prices wait for the broker to say where a dry fill partition ends before
# trying again at the next batch.
_END_CHECK_TIMEOUT_S = 1.0
# Stream keys of the merge: (kind, partition); at equal times a fill leaves first.
_FILLS, _PRICES = 0, 1


class InputStreams:
    def __init__(self, settings: Settings, clock: Callable[[], float]) -> None:
        self.settings = settings
        self.watch = AssignmentWatch()
        self._clock = clock
        # Per price partition, since when it has had nothing buffered or waiting.
        self._prices_dry_since: dict[int, float] = {}
        # Per partition, the offset after the last record handed out and handled: lag counts
        # from here, so records held back by the merge count as behind.
        self._handled_to: dict[TopicPartition, int] = {}
        # As of the last batch: more records wait, fetched or on the broker (catching up).
        self._behind = False
        # The last batch was a full one: the merge likely has the next ready (catching up).
        self._batch_full = False
        self._merge: EventTimeMerge[tuple[int, int], Decoded] = EventTimeMerge()
        # Per price partition, the offset after the newest record fetched; per fill
        # partition, the price partitions' high watermarks known when its end was last
        # asked for and found reached (see _confirm_dry_fills).
        self._prices_fetched_to: dict[int, int] = {}
        self._fills_end_covers: dict[int, dict[int, int]] = {}
        self._decoding = InputDecoding(settings)

    async def start(
        self,
        stack: AsyncExitStack,
        close: Callable[[AIOKafkaConsumer], Awaitable[None]],
        producer: AIOKafkaProducer,
        mode: DeliveryMode,
    ) -> None:
        """Start both consumers; `close(consumer)` is pushed on `stack` for each. Offsets are
        committed as `mode` delivers (in `producer`'s transactions for exactly once)."""
        settings, bootstrap = self.settings, self.settings.require_bootstrap()
        self.fills = make_consumer(
            bootstrap,
            "hedger-fills",
            settings.group_id,
            session_timeout_ms=settings.session_timeout_ms,
            fetch_max_wait_ms=_FILL_FETCH_MAX_WAIT_MS,
        )
        self.fills.subscribe([settings.fills_topic], listener=self.watch)
        await self.fills.start()
        stack.push_async_callback(close, self.fills)
        group = f"{settings.group_id}.prices.{settings.instance_id}"
        self.prices = make_consumer(
            bootstrap, "hedger-prices", group, fetch_max_wait_ms=_PRICE_FETCH_MAX_WAIT_MS
        )
        await self.prices.start()
        stack.push_async_callback(close, self.prices)
        self.prices.assign(await all_partitions(self.prices, settings.prices_topic))
        # Commits only (never fetches): a manually assigned member of the instance's group.
        self._positions = make_consumer(bootstrap, "hedger-positions", group)
        await self._positions.start()
        stack.push_async_callback(close, self._positions)
        self.commits: Commits = (
            TransactionalCommits(
                producer, self._positions, group, self.fills, settings.send_timeout_s
            )
            if mode is DeliveryMode.EXACTLY_ONCE
            else OffsetCommits(self._positions, self.fills)
        )
        self.commit_schedule = CommitSchedule(
            self.commits, self.watch, lambda: self._behind, self._clock, settings.shutdown_timeout_s
        )
        self.track_fills(set())
        # Runs before the consumers close (the stack unwinds last in, first out).
        stack.push_async_callback(self.commit_schedule.settle_at_close)

    def decode(self, record: Record) -> Event | DecodeError:
        return self._decoding.decode(record)

    async def caught_up(self) -> bool:
        """True when every record on the assigned partitions has been handed out and what
        was sent on them shows to a read_committed reader: no offsets wait to be committed
        (`commit_soon` groups them while records wait) and no transaction is open."""
        if self._buffered(_FILLS) or self._buffered(_PRICES) or self.commit_schedule.outstanding():
            return False
        for consumer in (self.fills, self.prices):
            for tp in consumer.assignment():
                end = consumer.highwater(tp)
                if end is None or await consumer.position(tp) < end:
                    return False
        return True

    def restart_delivery(self, producer: AIOKafkaProducer) -> None:
        """After fencing, as a restart: transactions on `producer`, and nothing kept of what
        was fetched, handled or waiting to be committed since the committed offsets (the
        rebuild reads it all again)."""
        if isinstance(self.commits, TransactionalCommits):
            self.commits.use(producer)
        self.forget_handled()

    def forget_handled(self) -> None:
        """Nothing kept of what was fetched, handled or waiting to be committed since the
        committed offsets: everything is read again from them."""
        self._merge = EventTimeMerge()
        self._handled_to.clear()
        self._fills_end_covers.clear()
        self._prices_fetched_to.clear()
        self.commit_schedule.forget()

    def forget_fetched_fills(self) -> None:
        """After a reassignment the fills are read again from the rebuilt position."""
        self._fills_end_covers.clear()
        for stream in self._merge.streams():
            if stream[0] == _FILLS:
                self._merge.clear(stream)

    def handled_with(self, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """Per assigned fill and price partition, the first offset not handled once the
        batch whose next offsets are `offsets` is."""
        handled = {**self._handled_to, **offsets}
        owned = [*self.fills.assignment(), *self.prices.assignment()]
        return {tp: handled.get(tp, 0) for tp in owned}

    async def handled_prices(self, committed: bool) -> dict[TopicPartition, int]:
        """Per price partition, the first offset the market has not seen: the committed one
        when the prices are still to be rebuilt, else the one after the last price handled."""
        if committed:
            return {
                tp: (await self._positions.committed(tp)) or 0 for tp in self.prices.assignment()
            }
        return {tp: self._handled_to.get(tp, 0) for tp in self.prices.assignment()}

    async def committed_fills(self) -> dict[TopicPartition, int]:
        """Per assigned fill partition, where handling resumes: the instance's own commit
        when it is the furthest (it went in with the prices of its batch, and the shared
        group's may have missed it by a crash), else the shared group's (another owner
        handled more since)."""
        resume = {}
        for tp in self.fills.assignment():
            shared, own = await self.fills.committed(tp), await self._positions.committed(tp)
            resume[tp] = max(shared or 0, own or 0)
        return resume

    def track_fills(self, fills: set[TopicPartition]) -> None:
        """Commit `fills` (the partitions now owned) with the prices from now on."""
        self._positions.assign([*self.prices.assignment(), *fills])
        self._positions.pause(*self._positions.assignment())
        self.commits.owners_changed()

    async def next_batch(self) -> list[Decoded]:
        """Fetch, then hand out what is ready in event-time order (may be nothing)."""
        # A commit that failed in the background stops the service even when no input
        # follows it (the next batch would raise it too, but may never come).
        self.commit_schedule.raise_error()
        await self._fetch()
        if self.watch.changed:
            return []  # the assignment moved under this fetch: rebuild first
        fills = {
            (_FILLS, tp.partition): await drained(self.fills, tp) for tp in self.fills.assignment()
        }
        await self._confirm_dry_fills(fills)
        prices = {
            (_PRICES, tp.partition): await drained(self.prices, tp)
            for tp in self.prices.assignment()
        }
        settled = {key: self._price_partition_settled(key[1], done) for key, done in prices.items()}
        ready = self._merge.pop_ready(
            {**fills, **prices},
            self.settings.batch_max_records,
            settled={**fills, **settled},
            patient=fills.keys(),
        )
        self._behind = not all(fills.values()) or not all(prices.values()) or self._merge_buffered()
        if ready:
            self.commit_schedule.batch_handed()
        self._batch_full = len(ready) >= self.settings.batch_max_records
        return ready

    def batch_offsets(self) -> dict[TopicPartition, int]:
        """Per partition, the offset after its last record in the batch `next_batch` handed
        out last (what committing it commits)."""
        return {
            TopicPartition(record.topic, record.partition): record.offset + 1
            for record, _ in self._merge.last_taken.values()
        }

    def _merge_buffered(self) -> bool:
        """Records fetched and not yet handed out (the merge holds them)."""
        return any(self._merge.buffered(stream) for stream in self._merge.streams())

    @property
    def behind(self) -> bool:
        """As of the last batch, more records wait, fetched or on the broker."""
        return self._behind

    async def note_rebuilt(self) -> None:
        """After a rebuild: every fill before the consumer's position is handled, and the
        prices up to the position they were rebuilt to (where not handled further since)."""
        for tp in self.fills.assignment():
            self._handled_to[tp] = await self.fills.position(tp)
        for tp in self.prices.assignment():
            if tp not in self._handled_to:
                self._handled_to[tp] = await self.prices.position(tp)

    def record_lag(self, metrics: Metrics, offsets: dict[TopicPartition, int]) -> None:
        """Records behind each assigned partition's end (as of the last fetch), counting
        from `offsets`, the next offsets after what was just handled; a partition no longer
        assigned loses its series."""
        self._handled_to.update(offsets)
        assigned = self.fills.assignment() | self.prices.assignment()
        for tp in [tp for tp in self._handled_to if tp not in assigned]:
            del self._handled_to[tp]
            with contextlib.suppress(KeyError):  # never had a series
                metrics.consumer_lag.remove(tp.topic, str(tp.partition))
        for consumer in (self.fills, self.prices):
            for tp in consumer.assignment():
                end, handled = consumer.highwater(tp), self._handled_to.get(tp)
                if end is not None and handled is not None:
                    lag = max(end - handled, 0)
                    metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(lag)

    def _buffered(self, kind: int) -> int:
        return sum(self._merge.buffered(key) for key in self._merge.streams() if key[0] == kind)

    async def _fetch(self) -> None:
        """Top up each stream's buffer; wait a little only when there is nothing to do."""
        waiting = self._buffered(_FILLS) + self._buffered(_PRICES)
        fills, prices = self._wanted(_FILLS, self.fills), self._wanted(_PRICES, self.prices)
        # The price fetch is the one that waits. With every price buffer full, the fill
        # fetch waits instead: a fetch that never waits never yields the event loop, and
        # aiokafka fetches in a task on that loop, so the fill partition the merge waits
        # for was never fetched (the service spun, its HTTP and heartbeats starved too).
        fill_wait_ms = 0 if prices else _DRY_POLL_MS
        price_wait_ms = _POLL_MS if not waiting else _DRY_POLL_MS
        # After a full batch, with records of every price partition still in the merge, it
        # has work in hand: no fetch waits, and the loop is yielded below instead. A price
        # partition run dry is waited for as before: fills pass it once it looks drained,
        # and it looks drained as of its last fetch answer, which the fetch in flight may
        # be about to overtake.
        in_hand = self._batch_full and all(
            self._merge.buffered((_PRICES, tp.partition)) for tp in self.prices.assignment()
        )
        if in_hand:
            fill_wait_ms = price_wait_ms = 0
        for kind, consumer, wanted, timeout_ms in (
            (_FILLS, self.fills, fills, fill_wait_ms),
            (_PRICES, self.prices, prices, price_wait_ms),
        ):
            batch = {}
            if wanted:
                # All that aiokafka holds for them, not a batch's worth: it fetches a
                # partition again only once its records are all taken, so the next fetch
                # is on its way while the merge hands these out. Taken a batch at a time, a
                # catch-up waited for each fetch once its last batch was handled: 17-36 ms
                # idle per 50,000 ticks on Apache Kafka (benchmarks/service_catch_up.py).
                # The merge holds at most a batch more than one fetch's records.
                batch = await consumer.getmany(*wanted, timeout_ms=timeout_ms)
            for tp in sorted(batch):
                records = batch[tp]
                self._merge.add((kind, tp.partition), *self._decoding.timed(tp.topic, records))
                if kind == _PRICES and records:
                    self._prices_fetched_to[tp.partition] = records[-1].offset + 1
        if in_hand:
            # aiokafka's fetch task sends the next fetch of what was just taken now, while
            # the merge hands it out, rather than once this loop next waits.
            await asyncio.sleep(0)

    def _wanted(self, kind: int, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        """The partitions of `consumer` to fetch: per partition, so one full buffer does not
        stop the fetch of a partition whose records the merge waits for."""
        limit = self.settings.batch_max_records
        return [
            tp for tp in consumer.assignment() if self._merge.buffered((kind, tp.partition)) < limit
        ]

    async def _confirm_dry_fills(self, fills: dict[tuple[int, int], bool]) -> None:
        """Asks the broker for the end of each fill partition that looks drained before
        buffered prices may pass it. `drained` knows an end only as of the partition's last
        fetch answer, which can predate a fill acknowledged before a tick was written:
        aiokafka holds a node's next fetch (100 ms) while records it fetched wait to be
        taken, a busy event loop sends the next fetch late, and on a cluster an answer can
        precede the fill's high watermark. Asked once a tick is on the broker, the end
        includes every fill acknowledged before the tick was written. A price record below
        a high watermark its partition's fetches reported before the ask was on the broker
        then: so a partition is asked again only once prices past the high watermarks known
        at its last answer were fetched. (Counting fetches instead, a catch-up asked before
        each batch: a round trip per 500 records, for ticks written long before.)
        Unanswered in time (a leader failing over), the prices wait."""
        if not self._buffered(_PRICES):
            return
        # Fills still buffered count too: the merge may take them all and pass on.
        dry = [
            TopicPartition(self.settings.fills_topic, key[1])
            for key, done in fills.items()
            if done and not self._fill_end_covers_prices(key[1])
        ]
        if not dry:
            return
        # Read before the ask: every price record below these was on the broker then.
        known = {tp.partition: self.prices.highwater(tp) or 0 for tp in self.prices.assignment()}
        try:
            async with asyncio.timeout(_END_CHECK_TIMEOUT_S):
                ends = await self._positions.end_offsets(dry)
        except (KafkaError, TimeoutError) as error:
            log.warning("fill partitions' ends unknown, prices wait: %r", error)
            ends = {}
        for tp in dry:
            end = ends.get(tp)
            reached = end is not None and await self.fills.position(tp) >= end
            fills[(_FILLS, tp.partition)] = reached
            if reached:
                self._fills_end_covers[tp.partition] = known

    def _fill_end_covers_prices(self, partition: int) -> bool:
        """The fill partition's last end found reached was asked after every price record
        fetched so far was on the broker."""
        covers = self._fills_end_covers.get(partition)
        return covers is not None and all(
            fetched_to <= covers.get(price_partition, 0)
            for price_partition, fetched_to in self._prices_fetched_to.items()
        )

    def _price_partition_settled(self, partition: int, drained: bool) -> bool:
        """Fills wait for each price partition to reach their time, up to `merge_wait_ms`
        once it looks caught up: its end is only known as of the last fetch, and a fill
        booked against a stale market would hedge at the wrong mark. (Prices of other
        partitions do not wait: for them `drained` is enough.)"""
        if self._merge.buffered((_PRICES, partition)) or not drained:
            self._prices_dry_since.pop(partition, None)
            return False
        now = self._clock()
        dry_since = self._prices_dry_since.setdefault(partition, now)
        return (now - dry_since) * 1000 >= self.settings.merge_wait_ms


async def drained(consumer: AIOKafkaConsumer, *partitions: TopicPartition) -> bool:
    """Nothing more waits on the broker for `partitions` of this consumer (default: all it
    holds). A partition that has had no fetch answer yet is not idle: at start, records
    already on the topic (a replay under way) would otherwise be passed by the other
    streams. The first answer comes within a fetch wait, records or not."""
    for tp in partitions or consumer.assignment():
        end = consumer.highwater(tp)
        if end is None or await consumer.position(tp) < end:
            return False
    return True
