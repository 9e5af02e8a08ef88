"""The live service: the async shell around the engine (the only place the service awaits).

`HedgerService` only composes: it checks the broker, starts the producer and the
consumers, wires the parts (`hedger.service_parts`) and serves until asked to stop,
rebuilding (`hedger.state_rebuild`) whenever the state does not stand for the fill
partitions assigned, else running the next batch (`hedger.batches`); readiness is
`hedger.readiness`, and a transaction given up starts delivery over.

Each cycle: read a batch of fills and prices, decode, let the engine decide, queue the orders
and dead letters; in the background (the next batch does not wait for it), wait for the
broker to acknowledge all of them, then commit `offset + 1` for every partition the batch
touched. A crash between acknowledgement and commit re-reads the batch: a restart rebuilds the
state the last committed batch left and handles what follows again, and what was sent on
it before the crash is not sent again (`SentAhead`: same input, same decision, same id).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import IllegalStateError, ProducerFenced

from hedger.action_sink import ActionSink
from hedger.adapters.control_publisher import ControlNotPublishedError, ControlPublisher
from hedger.adapters.controls import ControlActions, ControlTopic
from hedger.adapters.delivery import (
    DeliveryMode,
    DeliveryUnavailableError,
    FencedError,
    OwnershipLostError,
    renew_producer,
    start_producer,
)
from hedger.adapters.http import serve_http
from hedger.adapters.inputs import InputStreams
from hedger.adapters.kafka import DeliveryTimeoutError, know_topics
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox
from hedger.adapters.receipt import ReceiptClock
from hedger.adapters.record_signing import RecordKeyError, RecordSigner
from hedger.adapters.snapshots import SnapshotSchedule
from hedger.batches import BatchLoop
from hedger.config import Settings
from hedger.core.driver import EventDriver
from hedger.core.engine import HedgeEngine
from hedger.core.events import ControlEvent
from hedger.crash_points import CrashPoints
from hedger.readiness import Readiness
from hedger.service_parts import ServiceParts
from hedger.startup import StartupError, check_broker_and_topics
from hedger.state_rebuild import StateRebuild

log = logging.getLogger(__name__)

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
        self.metrics = metrics if metrics is not None else Metrics(None, settings.max_label_values)
        # Read once: the policy file is not read again on a rebuild.
        self._engine_config = settings.engine_config()
        # Timers from event time (not the wall clock), so a replay fires the same timers;
        # the one order of inputs the backtest follows too.
        self._driver = EventDriver(
            HedgeEngine(self._engine_config), self._engine_config.timer_interval_ns
        )
        self._control: ControlPublisher | None = None  # set by run(), used by HTTP controls
        self.delivery = DeliveryMode.AT_LEAST_ONCE  # until run() knows the broker
        self._clock = clock
        self._inputs = InputStreams(settings, clock)
        self._receipt = ReceiptClock(settings.max_tick_age_ms, settings.max_clock_skew_ms)
        self._readiness = Readiness(self.metrics, self._inputs)
        self._transactional_id = f"{settings.group_id}.{settings.instance_id}"
        self._output_topics = [settings.orders_topic, settings.dlq_topic, settings.control_topic]
        self._given_up_at: float | None = None  # monotonic time of the last transaction given up
        self._batches: BatchLoop | None = None  # run() wires it, with the rebuild
        self._signer: RecordSigner | None = None  # run() reads HEDGER_RECORD_KEY_FILE

    @property
    def engine(self) -> HedgeEngine:
        return self._driver.engine

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then finish the batch in hand and close within a deadline."""
        try:
            key_file = self.settings.record_key_file
            self._signer = None if key_file is None else RecordSigner.read(key_file)
        except RecordKeyError as error:
            raise StartupError(str(error)) from None
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
            self._control = await self._control_publisher(producer, stack)
            parts = await self._wire(producer, stack)
            self._outbox, self._state = parts.outbox, StateRebuild(parts)
            self._batches = BatchLoop(parts, self._state, self._clock)
            await self._serve(self._batches, stop, stack)
            await parts.commits.drain()
            self._readiness.stopped()
            log.info("stopping: last batch committed")

    async def _wire(self, producer: AIOKafkaProducer, stack: AsyncExitStack) -> ServiceParts:
        """The parts the rebuild and the batches work on, their consumers started (and
        closed by `stack`), all writing through `producer`."""
        settings = self.settings
        control = ControlTopic(
            self.bootstrap, settings.control_topic, settings.max_message_bytes, self._signer
        )
        await control.start()
        stack.push_async_callback(self._close, control.consumer.stop)
        await self._inputs.start(stack, self._close_consumer, producer, self.delivery)
        commits = self._inputs.commit_schedule
        outbox = Outbox(
            producer,
            commits.before_send,
            commits.hold_sends,
            settings.orders_topic,
            settings.dlq_topic,
            settings.max_message_bytes,
            settings.send_timeout_s,
            self._signer,
        )
        sink = ActionSink(
            self.metrics,
            outbox,
            ControlActions(self.metrics, outbox, settings),
            CrashPoints(settings.crash_at),
        )
        commits.commit_after(sink)
        return ServiceParts(
            settings,
            self._engine_config,
            self.metrics,
            self._driver,
            self._inputs,
            commits,
            self._readiness,
            self._receipt,
            control,
            outbox,
            sink,
            SnapshotSchedule(settings.snapshot_interval_s, self._clock),
            self.delivery,
            self._signer,
        )

    async def _control_publisher(
        self, producer: AIOKafkaProducer, stack: AsyncExitStack
    ) -> ControlPublisher:
        exactly_once = self.delivery is DeliveryMode.EXACTLY_ONCE
        publisher = ControlPublisher(
            self.bootstrap,
            self.settings.control_topic,
            self.settings.send_timeout_s,
            self._signer,
            f"{self._transactional_id}.control" if exactly_once else None,
            producer,
        )
        await publisher.start()
        stack.push_async_callback(self._close, publisher.stop)
        return publisher

    def _note_waiting(self, reason: str) -> None:
        self._readiness.waiting_for = reason

    @property
    def ready(self) -> bool:
        """State rebuilt for the fill partitions it stands for (see `not_ready_reason`)."""
        return self._readiness.rebuilt

    @property
    def rebuilt_at_s(self) -> float:
        """Wall time (s since the epoch) the state was last rebuilt; 0.0 before the first."""
        return self._readiness.rebuilt_at_s

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
        in_hand = self._batches is not None and self._batches.in_hand
        return not in_hand and await self._inputs.caught_up()

    async def _serve(self, batches: BatchLoop, stop: asyncio.Event, stack: AsyncExitStack) -> None:
        while not stop.is_set():
            try:
                if self._readiness.assignment_moved() or not self.ready:
                    await self._state.rebuild_or_retry(stop)
                    continue
                await batches.cycle()
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
        self._state.start_over()
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

    async def publish_control(self, event: ControlEvent) -> None:
        """Write a control record (HTTP control endpoints): the engine applies it when it
        reads it back, so the topic stays the one source of truth."""
        if self._control is None:
            raise ControlNotPublishedError("not sent: the hedger is starting")
        await self._control.publish(event)
