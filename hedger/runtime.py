"""The live service: the async shell around the engine (the only place the service awaits).

Each cycle: read a batch of fills and prices, decode, let the engine decide, queue the orders
and dead letters, wait for the broker to acknowledge all of them, then commit `offset + 1`
for every partition the batch touched, in the background (the next batch does not wait for
it). A crash between acknowledgement and commit re-reads the batch: a restart rebuilds the
state the last committed batch left and handles what follows again, and what was sent on
it before the crash is not sent again (`SentAhead`: same input, same decision, same id).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import IllegalStateError, KafkaConnectionError, KafkaError, ProducerFenced
from aiokafka.structs import TopicPartition

from hedger.action_sink import ActionSink
from hedger.adapters.controls import ControlActions, ControlTopic, publish_control
from hedger.adapters.delivery import (
    DeliveryMode,
    DeliveryUnavailableError,
    FencedError,
    OwnershipLostError,
    renew_producer,
    start_producer,
)
from hedger.adapters.http import serve_http
from hedger.adapters.inputs import Decoded, InputStreams, next_offsets
from hedger.adapters.kafka import DeliveryTimeoutError, know_topics, make_producer
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox
from hedger.adapters.receipt import ReceiptClock
from hedger.adapters.snapshots import (
    Snapshot,
    SnapshotSchedule,
    read_snapshot,
    snapshot_name,
    write_snapshot,
)
from hedger.codec import CrossedQuoteError, DecodeError
from hedger.config import Settings
from hedger.core.driver import EventDriver
from hedger.core.engine import HedgeEngine
from hedger.core.events import ControlEvent, PriceTick, QuoteCrossed, RecoveryCompleted
from hedger.crash_points import CrashPoints
from hedger.readiness import Readiness
from hedger.recovery import Record, SentAhead, read_to, rebuild_orders
from hedger.startup import StartupError, check_broker_and_topics

log = logging.getLogger(__name__)

_SCENARIO_INTERVAL_S = 1.0
_DELIVERY_LINES = {
    DeliveryMode.EXACTLY_ONCE: "exactly once (each batch's output and offsets in one"
    " transaction; read it with isolation.level=read_committed)",
    DeliveryMode.AT_LEAST_ONCE: "at least once with deterministic order ids (no transactions"
    " on this broker, or HEDGER_DELIVERY=at_least_once)",
}
# A transaction given up again this soon after the last (fenced, or timed out), the cause is
# not passing: another instance holds the transactional id, or the broker stays unable.
_GIVEN_UP_AGAIN_S = 60.0


class HedgerService:
    def __init__(
        self,
        settings: Settings,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.bootstrap = settings.require_bootstrap()
        self.metrics = metrics if metrics is not None else Metrics()
        # Read once: the policy file is not read again on a rebuild.
        self._engine_config = settings.engine_config()
        # Timers from event time (not the wall clock), so a replay fires the same timers;
        # the one order of inputs the backtest follows too.
        self._driver = EventDriver(
            HedgeEngine(self._engine_config), self._engine_config.timer_interval_ns
        )
        self._controls_rebuilt = False
        self._producer: AIOKafkaProducer | None = None  # set by run(), used by HTTP controls
        self.delivery = DeliveryMode.AT_LEAST_ONCE  # until run() knows the broker
        self._clock = clock
        self._scenarios_at = -math.inf
        self._prices_rebuilt = False
        # What the last run sent on inputs not yet handled again since the rebuild.
        self._sent_ahead = SentAhead({})
        self._inputs = InputStreams(settings, clock)
        self._receipt = ReceiptClock(settings.max_tick_age_ms, settings.max_clock_skew_ms)
        self._readiness = Readiness(self.metrics, self._inputs)
        self._transactional_id = f"{settings.group_id}.{settings.instance_id}"
        self._output_topics = [settings.orders_topic, settings.dlq_topic, settings.control_topic]
        self._given_up_at: float | None = None  # monotonic time of the last transaction given up
        self._batch_in_hand = False  # fetched records being handed to the engine
        self._snapshots = SnapshotSchedule(settings.snapshot_interval_s, clock)
        self._orders_read: dict[int, int] = {}  # per order partition, read to at the rebuild

    @property
    def engine(self) -> HedgeEngine:
        return self._driver.engine

    @engine.setter
    def engine(self, engine: HedgeEngine) -> None:
        self._driver.engine = engine

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then finish the batch in hand and close within a deadline."""
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(serve_http(self, self.settings))
            stack.callback(self._readiness.serving_until(stop).cancel)
            if not await check_broker_and_topics(self.settings, self._note_waiting, stop):
                return
            self._readiness.waiting_for = None
            settings = self.settings
            try:
                producer, self.delivery = await start_producer(
                    self.bootstrap, settings.delivery, self._transactional_id
                )
            except DeliveryUnavailableError as error:
                raise StartupError(str(error)) from None
            stack.push_async_callback(self._close, producer.stop)
            log.info("delivery: %s", _DELIVERY_LINES[self.delivery])
            self.metrics.delivery_mode.labels(self.delivery.value).set(1)
            await know_topics(producer, self._output_topics)
            # HTTP control requests write outside the batches' transactions.
            self._producer = await self._control_producer(producer, stack)
            self._control = ControlTopic(
                self.bootstrap, settings.control_topic, settings.max_message_bytes
            )
            await self._control.start()
            stack.push_async_callback(self._close, self._control.consumer.stop)
            await self._inputs.start(stack, self._close_consumer, producer, self.delivery)
            self._outbox = Outbox(
                producer,
                self._inputs.before_send,
                settings.orders_topic,
                settings.dlq_topic,
                settings.max_message_bytes,
                settings.send_timeout_s,
            )
            self._sink = ActionSink(
                self.metrics,
                self._outbox,
                ControlActions(self.metrics, self._outbox, settings),
                CrashPoints(settings.crash_at),
            )
            await self._serve(stop, stack)
            await self._inputs.drain()
            self._readiness.stopped()
            log.info("stopping: last batch committed")

    async def _control_producer(
        self, producer: AIOKafkaProducer, stack: AsyncExitStack
    ) -> AIOKafkaProducer:
        if self.delivery is DeliveryMode.AT_LEAST_ONCE:
            return producer
        plain = make_producer(self.bootstrap, "hedger-control")
        await plain.start()
        stack.push_async_callback(self._close, plain.stop)
        return plain

    def _note_waiting(self, reason: str) -> None:
        self._readiness.waiting_for = reason

    @property
    def ready(self) -> bool:
        """State rebuilt for the fill partitions it stands for (see `not_ready_reason`)."""
        return self._readiness.rebuilt

    def not_ready_reason(self) -> str | None:
        """Why /readyz answers 503, or None when ready (`hedger.readiness`)."""
        return self._readiness.reason()

    async def _close(self, stop_client: Callable[[], Awaitable[None]]) -> None:
        try:
            async with asyncio.timeout(self.settings.shutdown_timeout_s):
                await stop_client()
        except TimeoutError:
            log.error("a Kafka client did not stop within %.1f s", self.settings.shutdown_timeout_s)
        except asyncio.CancelledError:
            # With the broker gone, aiokafka's consumer.stop() re-raises the cancellation of
            # its own fetch retry; only a cancellation of this task may stop the shutdown.
            task = asyncio.current_task()
            if task is None or task.cancelling():
                raise
            log.error("a Kafka client failed to stop cleanly (broker unreachable?)")

    async def _close_consumer(self, consumer: AIOKafkaConsumer) -> None:
        await self._close(consumer.stop)

    async def caught_up(self) -> bool:
        """True when every record on the assigned partitions has been handed to the engine,
        and its batch handled (a batch's first send may wait for the last commit)."""
        return not self._batch_in_hand and await self._inputs.caught_up()

    async def _serve(self, stop: asyncio.Event, stack: AsyncExitStack) -> None:
        while not stop.is_set():
            try:
                if self._readiness.assignment_moved() or not self.ready:
                    await self._rebuild_or_retry(stop)
                    continue
                await self._cycle()
            except OwnershipLostError as error:
                log.warning("batch dropped, nothing of it sent: %s", error)
            except IllegalStateError as error:
                # aiokafka's word for partitions that moved under a seek or a commit (a
                # rebalance during a rebuild): rebuild for the new assignment.
                log.warning("the fill partitions moved: %s", error)
                self._inputs.watch.changed = True
            except (FencedError, ProducerFenced) as error:
                await self._restart_delivery(error, "fenced", stack)
            except DeliveryTimeoutError as error:
                if self.delivery is not DeliveryMode.EXACTLY_ONCE:
                    raise  # a batch maybe sent, not undone: a restart reconciles it
                await self._restart_delivery(error, "send_timeout", stack)

    async def _restart_delivery(self, error: Exception, cause: str, stack: AsyncExitStack) -> None:
        """A batch's transaction is given up: the coordinator aborted it and fenced the
        producer (a broker outage or a freeze longer than its timeout), or the broker did
        not acknowledge it within the send deadline (seen once after a leader's failover;
        a commit that timed out may still have landed, and the rebuild reads what did). A
        new producer under the same transactional id aborts whatever the old one left
        open; then everything is rebuilt from the committed offsets as a restart would, so
        the batches given up are decided again under the same ids. Given up again soon
        after, or the new producer not started within the send deadline, the cause is not
        passing (another instance holds this transactional id, or the broker stays
        unable): stop."""
        now = time.monotonic()
        if self._given_up_at is not None and now - self._given_up_at < _GIVEN_UP_AGAIN_S:
            raise error
        self._given_up_at = now
        self.metrics.delivery_restarts.labels(cause).inc()
        log.warning("%s; a new producer, and state rebuilt from the committed offsets", error)
        self._start_over()
        producer = await renew_producer(
            self._outbox.producer,
            self.bootstrap,
            self._transactional_id,
            self._close,
            self.settings.send_timeout_s,
        )
        stack.push_async_callback(self._close, producer.stop)
        await know_topics(producer, self._output_topics)
        self._outbox.producer = producer
        self._inputs.restart_delivery(producer)

    def _start_over(self) -> None:
        """Unready until everything is rebuilt from the committed offsets, prices and
        controls included, into a fresh engine, as at a restart."""
        self._readiness.unready()
        self._prices_rebuilt = self._controls_rebuilt = False
        self.engine = HedgeEngine(self._engine_config)  # a fresh market and controls

    async def _rebuild_or_retry(self, stop: asyncio.Event) -> None:
        """A rebuild, or a line saying why it starts over: a read of a topic's end times
        out while a node does not answer (frozen, or failing over), and the service waits
        unready for the cluster rather than stopping on it. Starting over from nothing,
        so that a rebuild cut short (prices read, controls not) leaves no half state."""
        try:
            await self._rebuild(stop)
        except DeliveryTimeoutError:
            raise
        except TimeoutError as error:
            log.warning("rebuild timed out (%r; a node not answering?): starting over", error)
            self._start_over()

    async def _rebuild(self, stop: asyncio.Event) -> None:
        """Rebuild book state for the fill partitions now assigned, before hedging again."""
        self._readiness.unready()
        inputs = self._inputs
        while not inputs.fills.assignment() and not stop.is_set():
            await inputs.fills.getmany(timeout_ms=100)  # joins the group; records are re-read
        if stop.is_set():
            return
        await inputs.drain()  # the commit in flight may still fail and move the assignment
        inputs.watch.changed = False
        inputs.forget_fetched_fills()
        assigned = inputs.fills.assignment()
        self._readiness.rebuilding_for(assigned)
        inputs.track_fills(assigned)
        resume = await inputs.committed_fills()
        prices_to = await inputs.handled_prices(committed=not self._prices_rebuilt)
        # A snapshot holds a market too: only where the market is rebuilt with the books.
        snapshot = None if self._prices_rebuilt else await self._snapshot(resume, prices_to)
        if snapshot is None:
            engine = HedgeEngine(
                self._engine_config, market=self.engine.market, controls=self.engine.controls
            )
        else:
            engine = snapshot.engine
            self._receipt.restore(snapshot.receipts)
        self.engine = engine
        self.metrics.rebuild_source.set(snapshot is not None)
        starts = {} if snapshot is None else snapshot.inputs
        orders, self._sent_ahead, self._orders_read = await rebuild_orders(
            self.bootstrap,
            self.settings.orders_topic,
            {tp.partition for tp in assigned},
            engine,
            {**resume, **prices_to},
            None if snapshot is None else snapshot.orders,
        )
        self._outbox.orders_end.clear()
        await read_to(inputs.fills, resume, self._recover_record, starts)
        if not self._prices_rebuilt:
            await read_to(inputs.prices, prices_to, self._recover_record, starts)
            self._prices_rebuilt = True
        if not self._controls_rebuilt:
            # Kill switches and latches outlive restarts: the topic is their memory.
            controls = await self._control.replay(engine.handle)
            self._controls_rebuilt = True
            log.info("control state rebuilt from %d records", controls)
        for timing in self._receipt.after_rebuild(engine.market.last_tick_ns):
            engine.handle(timing)
        self._record_controls()
        decided = await self._sink.deliver(None, engine.handle(RecoveryCompleted(ts_ns=0)))
        await self._sink.flush()
        await inputs.commit({tp: await inputs.fills.position(tp) for tp in assigned})
        await inputs.note_rebuilt()
        inputs.record_lag(self.metrics, {})
        self._record_books()
        self._snapshots.rebuilt()
        self._readiness.ready()
        log.info(
            "state rebuilt: %d partitions, %d orders, %d working, %d sent on the rebuilt state",
            len(assigned),
            orders,
            len(engine.working_orders()),
            decided,
        )

    async def _snapshot(
        self, resume: dict[TopicPartition, int], prices_to: dict[TopicPartition, int]
    ) -> Snapshot | None:
        """The last snapshot of the fill partitions now assigned, if it stands for inputs
        up to or before the committed ones (at least once, a crash between a batch's
        snapshot and its commit leaves one ahead: the inputs after the commit are handled
        again, so it is not used)."""
        if not self._snapshots.enabled:
            return None
        found = await read_snapshot(
            self.bootstrap, self.settings.snapshot_topic, self._snapshot_name(), self._engine_config
        )
        handled = {**resume, **prices_to}
        if isinstance(found, Snapshot) and (
            found.inputs.keys() != handled.keys()
            or any(offset > handled[tp] for tp, offset in found.inputs.items())
        ):
            found = "snapshot ahead of the committed offsets (taken before a commit that failed)"
        if isinstance(found, str):
            log.info("rebuilding from the start of the topics: %s", found)
            return None
        # Rebuilt state decides nothing until RecoveryCompleted, as a fresh engine.
        found.engine.live = False
        taken = dt.datetime.fromtimestamp(found.taken_ns / 1e9, dt.UTC)
        log.info("rebuilding from a snapshot taken %s", taken.isoformat(timespec="seconds"))
        return found

    def _snapshot_name(self) -> str:
        fills = {tp.partition for tp in self._readiness.rebuilt_for}
        return snapshot_name(self.settings.group_id, self.settings.fills_topic, fills)

    async def _snapshot_if_due(self, offsets: dict[TopicPartition, int]) -> bool:
        """Write a snapshot of the state as it is once `offsets` (the batch's) are handled,
        in the batch. Not while orders sent before a restart wait for their inputs: the
        state lacks them, while the order topic, read to its end, has them."""
        if not self._snapshots.due() or self._sent_ahead:
            return False
        started = time.perf_counter()
        orders = {
            partition: max(end, self._outbox.orders_end.get(partition, 0))
            for partition, end in self._orders_read.items()
        }
        snapshot = Snapshot(
            self.engine,
            self._inputs.handled_with(offsets),
            orders,
            self._receipt.state(),
            time.time_ns(),
        )
        try:
            size = await write_snapshot(
                self._outbox.write,
                self.settings.snapshot_topic,
                self._snapshot_name(),
                snapshot,
                self.settings.max_message_bytes,
            )
        except (DeliveryTimeoutError, KafkaError) as error:
            if self.delivery is DeliveryMode.EXACTLY_ONCE:
                raise  # in the batch's transaction: given up with it
            # A snapshot only shortens a restart: hedging goes on without it. Chunks written
            # without their manifest are never read.
            self._snapshots.failed()
            self.metrics.snapshot_failures.inc()
            log.warning(
                "snapshot not written, next try in %g s: %s",
                self.settings.snapshot_interval_s,
                error,
            )
            return False
        self._snapshots.written()
        self.metrics.snapshot_bytes.set(size)
        self.metrics.snapshot_write_seconds.set(time.perf_counter() - started)
        return True

    async def _recover_record(self, record: Record) -> None:
        """Replay a handled record into state only (what it sent is on the topics)."""
        decoded = self._inputs.decode(record)
        if isinstance(decoded, DecodeError):
            self._freeze_if_crossed(decoded)
            return
        self.engine.handle(decoded)
        if isinstance(decoded, PriceTick):
            self._receipt.noted(decoded, record)

    def _freeze_if_crossed(self, error: DecodeError) -> None:
        if isinstance(error, CrossedQuoteError):
            self.engine.handle(QuoteCrossed(error.symbol, error.ts_ns))

    async def publish_control(self, event: ControlEvent) -> None:
        """Write a control record (HTTP control endpoints): the engine applies it when it
        reads it back, so the topic stays the one source of truth."""
        if self._producer is None:
            raise KafkaConnectionError("the hedger has no producer yet (starting)")
        timeout_s = self.settings.send_timeout_s
        await publish_control(self._producer, self.settings.control_topic, event, timeout_s)

    async def _poll_controls(self) -> None:
        """Apply new control records at once, even while the feeds are quiet."""
        polled = await self._control.poll()
        for record, event in polled:
            self.metrics.messages_consumed.labels(record.topic).inc()
            if isinstance(event, DecodeError):
                await self._sink.dead_letter(record, event.kind, event.detail)
            else:
                log.warning("control applied: %s", event)
                await self._sink.deliver(record, self.engine.handle(event))
        if polled:
            await self._sink.flush()
            self._inputs.commit_soon({})  # a transaction holding a cancel or dead letter
            self._record_controls()

    def _record_books(self) -> None:
        self.metrics.record_exposures(self.engine.exposures())
        self.metrics.record_pnl(self.engine.pnl.now())

    def _record_controls(self) -> None:
        controls = self.engine.controls
        switches = controls.switches
        self.metrics.record_controls(switches.kill, switches.latched, self.engine.books())
        self.metrics.record_price_blocks(controls.guard.blocked())

    async def _cycle(self) -> None:
        await self._poll_controls()
        handled = await self._inputs.next_batch()
        if not handled:
            if await self._snapshot_if_due({}):
                self._inputs.commit_soon({})  # ends the snapshot's transaction, if any
            # Nothing ready (records may be held back by the merge): lag still moves.
            self._inputs.record_lag(self.metrics, {})
            return
        self._receipt.tick_now()
        tick_stamps_ms: list[int] = []  # per tick-driven order, its tick's Kafka timestamp
        events: list[object] = [decoded for _, decoded in handled]
        index = 0
        self._batch_in_hand = True
        try:
            while index < len(handled):
                index, stamps_ms = await self._handle_from(handled, events, index)
                tick_stamps_ms += stamps_ms
        finally:
            self._batch_in_hand = False
        await self._sink.flush()
        # Wall clock, as the producer's CreateTime: includes the broker and the fetch wait.
        delivered_ms = time.time() * 1000
        for stamp_ms in tick_stamps_ms:
            latency_s = max(delivered_ms - stamp_ms, 0.0) / 1000
            self.metrics.tick_to_order_latency.observe(latency_s)
        offsets = next_offsets(record for record, _ in handled)
        self._snapshots.moved()
        await self._snapshot_if_due(offsets)
        self._inputs.commit_soon(offsets)
        self._record_books()
        self._record_controls()
        self._record_scenarios()
        self._inputs.record_lag(self.metrics, offsets)

    async def _handle_from(
        self, handled: list[Decoded], events: list[object], start: int
    ) -> tuple[int, list[int]]:
        """Decide and queue what follows `handled[start]`, or the run of ticks it starts;
        return the index after what was handled and, per tick-driven order it queued, the
        Kafka timestamp (ms) of the tick record that caused it. `events` are the decoded
        inputs of `handled`, as the driver reads them."""
        record, decoded = handled[start]
        if self._sent_ahead:
            for event in self._sent_ahead.take(record):
                self.engine.handle(event)  # sent on this input before a restart
        if isinstance(decoded, DecodeError):
            self.metrics.messages_consumed.labels(record.topic).inc()
            await self._sink.dead_letter(record, decoded.kind, decoded.detail)
            self._freeze_if_crossed(decoded)
            return start + 1, []
        if isinstance(decoded, PriceTick):
            return await self._handle_ticks(handled, events, start)
        step = self._driver.step(events, start)
        if step.timer is not None:
            await self._sink.deliver(record, step.timer.actions)
        self.metrics.messages_consumed.labels(record.topic).inc()
        await self._sink.deliver(record, step.actions)
        return start + 1, []

    async def _handle_ticks(
        self, handled: list[Decoded], events: list[object], start: int
    ) -> tuple[int, list[int]]:
        """The run of ticks of one underlying from `handled[start]` (`EventDriver.run_end`),
        ended where the wall-clock judgment of its ticks changes (a tick judged otherwise is
        told to the engine first), and before anything sent on them before a restart but on
        the first (it joins the state first)."""
        first, driver = handled[start][0], self._driver
        timer = driver.fire_timer(cast(PriceTick, events[start]).ts_ns)
        if timer is not None:
            await self._sink.deliver(first, timer.actions)
        kind, untimely = self._receipt.kind, self._receipt.kind(first)
        # Looked up per tick only while something sent before a restart is still held.
        held = self._sent_ahead.holds if self._sent_ahead else None

        def joins(index: int) -> bool:
            record = handled[index][0]
            return kind(record) == untimely and (held is None or not held(record))

        stop = driver.run_end(events, start, joins=joins)
        ticks = cast("list[PriceTick]", events)
        topic, symbol = first.topic, ticks[start].symbol
        timing = self._receipt.tell(ticks[start], first)
        if timing is not None:
            await self._sink.deliver(first, self.engine.handle(timing))
        if untimely is not None:
            self.metrics.untimely_ticks.labels(untimely).inc(stop - start)
        market = self.engine.market.ticks
        accepted_before = market.get(symbol)
        stamps_ms: list[int] = []
        position = start
        while position < stop:
            _, after, actions = driver.step(events, position, joins=joins)
            self.metrics.messages_consumed.labels(topic).inc(after - position)
            # Actions (a dead letter among them) belong to the last tick handled.
            record = handled[after - 1][0]
            stamps_ms += [record.timestamp] * await self._sink.deliver(record, actions)
            position = after
        self._receipt.noted(ticks[stop - 1], handled[stop - 1][0])
        # Only an accepted tick is fresh, and only accepted symbols become labels.
        if market.get(symbol) is not accepted_before:
            self.metrics.last_tick_received.labels(symbol).set_to_current_time()
        return stop, stamps_ms

    def _record_scenarios(self) -> None:
        """Scenario grids revalue every position once per cell: at most once a second."""
        now = self._clock()
        if now - self._scenarios_at >= _SCENARIO_INTERVAL_S:
            self._scenarios_at = now
            self.metrics.risk.record_scenarios(self.engine.scenario_grids())
