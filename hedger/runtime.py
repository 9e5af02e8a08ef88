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
import logging
import math
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import TopicPartition

from hedger.adapters.controls import ControlActions, ControlTopic, publish_control
from hedger.adapters.http import serve_http
from hedger.adapters.inputs import Decoded, InputStreams, next_offsets
from hedger.adapters.kafka import know_topics, last_fetch_s, make_producer
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox
from hedger.adapters.receipt import ReceiptClock
from hedger.codec import CrossedQuoteError, DecodeError
from hedger.config import Settings
from hedger.core.actions import Action, InputRejected, SubmitHedgeOrder
from hedger.core.clock import EventTimer
from hedger.core.engine import HedgeEngine
from hedger.core.events import ControlEvent, PriceTick, QuoteCrossed, RecoveryCompleted
from hedger.recovery import Record, SentAhead, read_to, rebuild_orders
from hedger.startup import check_broker_and_topics

log = logging.getLogger(__name__)

_SCENARIO_INTERVAL_S = 1.0
# A broker silent this long counts as unreachable: even the control consumer's idle fetch
# returns every 500 ms.
_BROKER_SILENCE_S = 5.0


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
        self.engine = HedgeEngine(self._engine_config)
        # Timers from event time (not the wall clock), so a replay fires the same timers.
        self._timer = EventTimer(settings.timer_interval_ms * 1_000_000)
        self._controls_rebuilt = False
        self._producer: AIOKafkaProducer | None = None  # set by run(), used by HTTP controls
        self.ready = False
        self._stop = asyncio.Event()  # run() replaces it with the caller's stop request
        self._stopping_noted = False
        self._rebuilt_at_s = 0.0
        self._rebuilt_for: set[TopicPartition] = set()  # the fill partitions of the state
        self._clock = clock
        self._scenarios_at = -math.inf
        self._prices_rebuilt = False
        # What the last run sent on inputs not yet handled again since the rebuild.
        self._sent_ahead = SentAhead({})
        self._inputs = InputStreams(settings, clock)
        self._receipt = ReceiptClock(settings.max_tick_age_ms, settings.max_clock_skew_ms)
        self._waiting_for: str | None = "starting: checking the broker and topics"

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until `stop` is set, then finish the batch in hand and close within a deadline."""
        self._stop = stop
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(serve_http(self, self.settings))
            stack.callback(asyncio.create_task(self._unready_on_stop(stop)).cancel)
            if not await check_broker_and_topics(self.settings, self._note_waiting, stop):
                return
            self._waiting_for = None
            producer = make_producer(self.bootstrap, "hedger")
            await producer.start()
            stack.push_async_callback(self._close, producer.stop)
            settings = self.settings
            await know_topics(
                producer, [settings.orders_topic, settings.dlq_topic, settings.control_topic]
            )
            self._outbox = Outbox(
                producer,
                settings.orders_topic,
                settings.dlq_topic,
                settings.max_message_bytes,
                settings.send_timeout_s,
            )
            self._producer = producer
            self._control_actions = ControlActions(self.metrics, self._outbox, self.settings)
            self._control = ControlTopic(
                self.bootstrap, self.settings.control_topic, self.settings.max_message_bytes
            )
            await self._control.start()
            stack.push_async_callback(self._close, self._control.consumer.stop)
            await self._inputs.start(stack, self._close_consumer)
            await self._serve(stop)
            await self._inputs.drain()
            # The watcher may not have run yet if the last batch never had to wait.
            self._note_stopping()
            self.ready = False
            self.metrics.ready.set(0)
            log.info("stopping: last batch committed")

    def _note_waiting(self, reason: str) -> None:
        self._waiting_for = reason

    def not_ready_reason(self) -> str | None:
        """Why /readyz answers 503, or None when ready: state rebuilt for assigned fill
        partitions, the broker answering, and no stop requested (a stopping instance is
        unready at once, before its last batch finishes)."""
        if self._stop.is_set():
            return "stopping"
        if self._waiting_for is not None:
            return self._waiting_for
        if not self.ready or self._assignment_moved():
            return "rebuilding state"  # or about to: the fill partitions were reassigned
        if not self._inputs.fills.assignment():
            return "no fill partitions assigned"
        if not self._broker_answering():
            return "broker unreachable"
        return None

    def _assignment_moved(self) -> bool:
        """The fill partitions differ from those the state was rebuilt for. Also asked of
        the assignment itself: aiokafka updates it before the rebalance listener runs."""
        return self._inputs.watch.changed or self._inputs.fills.assignment() != self._rebuilt_for

    def _broker_answering(self) -> bool:
        # A rebuild reads the topics, so its end is a broker answer, like each fetch response.
        consumers = (self._inputs.fills, self._inputs.prices)
        fetched = [last_fetch_s(consumer) for consumer in consumers]
        latest = max(stamp for stamp in [self._rebuilt_at_s, *fetched] if stamp is not None)
        return time.time() - latest <= _BROKER_SILENCE_S

    async def _unready_on_stop(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._note_stopping()

    def _note_stopping(self) -> None:
        """Not ready from the moment a stop is requested, while the last batch finishes."""
        if not self._stopping_noted:
            self._stopping_noted = True
            self.metrics.ready.set(0)
            log.info("stop requested: not ready from now on")

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
        """True when every record on the assigned partitions has been handed to the engine."""
        return await self._inputs.caught_up()

    async def _serve(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if self._assignment_moved() or not self.ready:
                await self._rebuild(stop)
                continue
            await self._cycle()

    async def _rebuild(self, stop: asyncio.Event) -> None:
        """Rebuild book state for the fill partitions now assigned, before hedging again."""
        self.ready = False
        self.metrics.ready.set(0)
        inputs = self._inputs
        while not inputs.fills.assignment() and not stop.is_set():
            await inputs.fills.getmany(timeout_ms=100)  # joins the group; records are re-read
        if stop.is_set():
            return
        await inputs.drain()  # the commit in flight may still fail and move the assignment
        inputs.watch.changed = False
        inputs.forget_fetched_fills()
        assigned = inputs.fills.assignment()
        self._rebuilt_for = set(assigned)
        engine = HedgeEngine(
            self._engine_config, market=self.engine.market, controls=self.engine.controls
        )
        self.engine = engine
        inputs.track_fills(assigned)
        resume = await inputs.committed_fills()
        prices_to = await inputs.handled_prices(committed=not self._prices_rebuilt)
        orders, self._sent_ahead = await rebuild_orders(
            self.bootstrap,
            self.settings.orders_topic,
            {tp.partition for tp in assigned},
            engine,
            {**resume, **prices_to},
        )
        await read_to(inputs.fills, resume, self._recover_record)
        if not self._prices_rebuilt:
            await read_to(inputs.prices, prices_to, self._recover_record)
            self._prices_rebuilt = True
        if not self._controls_rebuilt:
            # Kill switches and latches outlive restarts: the topic is their memory.
            controls = await self._control.replay(engine.handle)
            self._controls_rebuilt = True
            log.info("control state rebuilt from %d records", controls)
        for timing in self._receipt.after_rebuild(engine.market.last_tick_ns):
            engine.handle(timing)
        self._record_controls()
        decided = await self._deliver(None, engine.handle(RecoveryCompleted(ts_ns=0)))
        await self._flush()
        await inputs.commit({tp: await inputs.fills.position(tp) for tp in assigned})
        await inputs.note_rebuilt()
        inputs.record_lag(self.metrics, {})
        self.metrics.record_exposures(engine.exposures())
        self._rebuilt_at_s = time.time()
        self.ready = True
        self.metrics.ready.set(1)
        log.info(
            "state rebuilt: %d partitions, %d orders, %d working, %d sent on the rebuilt state",
            len(assigned),
            orders,
            len(engine.working_orders()),
            decided,
        )

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
                await self._dead_letter(record, event.kind, event.detail)
            else:
                log.warning("control applied: %s", event)
                await self._deliver(record, self.engine.handle(event))
        if polled:
            await self._flush()
            self._record_controls()

    def _record_controls(self) -> None:
        controls = self.engine.controls
        switches = controls.switches
        self.metrics.record_controls(switches.kill, switches.latched, self.engine.books())
        self.metrics.record_price_blocks(controls.guard.blocked())

    async def _cycle(self) -> None:
        await self._poll_controls()
        handled = await self._inputs.next_batch()
        if not handled:
            # Nothing ready (records may be held back by the merge): lag still moves.
            self._inputs.record_lag(self.metrics, {})
            return
        self._receipt.tick_now()
        tick_stamps_ms: list[int] = []  # per tick-driven order, its tick's Kafka timestamp
        index = 0
        while index < len(handled):
            index, stamps_ms = await self._handle_from(handled, index)
            tick_stamps_ms += stamps_ms
        await self._flush()
        # Wall clock, as the producer's CreateTime: includes the broker and the fetch wait.
        delivered_ms = time.time() * 1000
        for stamp_ms in tick_stamps_ms:
            latency_s = max(delivered_ms - stamp_ms, 0.0) / 1000
            self.metrics.tick_to_order_latency.observe(latency_s)
        offsets = next_offsets(record for record, _ in handled)
        self._inputs.commit_soon(offsets)
        self.metrics.record_exposures(self.engine.exposures())
        self._record_controls()
        self._record_scenarios()
        self._inputs.record_lag(self.metrics, offsets)

    async def _handle_from(self, handled: list[Decoded], start: int) -> tuple[int, list[int]]:
        """Decide and queue what follows `handled[start]`, or the run of ticks it starts;
        return the index after what was handled and, per tick-driven order it queued, the
        Kafka timestamp (ms) of the tick record that caused it."""
        record, decoded = handled[start]
        if self._sent_ahead:
            for event in self._sent_ahead.take(record):
                self.engine.handle(event)  # sent on this input before a restart
        if isinstance(decoded, DecodeError):
            self.metrics.messages_consumed.labels(record.topic).inc()
            await self._dead_letter(record, decoded.kind, decoded.detail)
            self._freeze_if_crossed(decoded)
            return start + 1, []
        timer = self._timer.advance(decoded.ts_ns)
        if timer is not None:
            await self._deliver(record, self.engine.handle(timer))
        if isinstance(decoded, PriceTick):
            return await self._handle_ticks(handled, start)
        self.metrics.messages_consumed.labels(record.topic).inc()
        await self._deliver(record, self.engine.handle(decoded))
        return start + 1, []

    async def _handle_ticks(self, handled: list[Decoded], start: int) -> tuple[int, list[int]]:
        """The run of ticks of one underlying from `handled[start]` with no timer due among
        them, through `HedgeEngine.handle_ticks`: the actions of handling each in turn, with
        the steady ticks taken in one pass (catching up and replays run several times faster)."""
        stop = self._tick_run_end(handled, start)
        ticks = cast("list[PriceTick]", [decoded for _, decoded in handled[start:stop]])
        first, topic, symbol = handled[start][0], handled[start][0].topic, ticks[0].symbol
        timing = self._receipt.tell(ticks[0], first)
        if timing is not None:
            await self._deliver(first, self.engine.handle(timing))
        untimely = self._receipt.kind(first)
        if untimely is not None:
            self.metrics.untimely_ticks.labels(untimely).inc(stop - start)
        market = self.engine.market.ticks
        accepted_before = market.get(symbol)
        stamps_ms: list[int] = []
        position = 0
        while position < len(ticks):
            after, actions = self.engine.handle_ticks(ticks, position)
            self.metrics.messages_consumed.labels(topic).inc(after - position)
            # Actions (a dead letter among them) belong to the last tick handled.
            record = handled[start + after - 1][0]
            stamps_ms += [record.timestamp] * await self._deliver(record, actions)
            position = after
        self._receipt.noted(ticks[-1], handled[stop - 1][0])
        # Only an accepted tick is fresh, and only accepted symbols become labels.
        if market.get(symbol) is not accepted_before:
            self.metrics.last_tick_received.labels(symbol).set_to_current_time()
        return stop, stamps_ms

    def _tick_run_end(self, handled: list[Decoded], start: int) -> int:
        """The end of the run of ticks from `start`: one underlying, no timer due, one
        wall-clock judgment (a tick judged otherwise is told to the engine first), and
        nothing sent on them before a restart but on the first (it joins the state first)."""
        symbol = cast(PriceTick, handled[start][1]).symbol
        timer_ns = self._timer.next_ns
        kind = self._receipt.kind
        untimely = kind(handled[start][0])
        # Looked up per tick only while something sent before a restart is still held.
        held = self._sent_ahead.holds if self._sent_ahead else None
        end = start + 1
        while end < len(handled):
            record, decoded = handled[end]
            if (
                type(decoded) is not PriceTick
                or decoded.symbol != symbol
                or decoded.ts_ns >= timer_ns
                or kind(record) != untimely
                or (held is not None and held(record))
            ):
                break
            end += 1
        return end

    async def _deliver(self, record: Record | None, actions: list[Action]) -> int:
        """Queue what the actions send; returns how many hedge orders they hold. `record`
        is the input behind them (None for decisions on rebuilt state), dead-lettered if
        they refuse it."""
        orders = 0
        for action in actions:
            if isinstance(action, SubmitHedgeOrder):
                await self._outbox.order(action, record)
                side = action.side.value
                self.metrics.hedge_orders.labels(action.book, action.symbol, side).inc()
                self.metrics.hedge_order_shares.labels(action.book, action.symbol, side).inc(
                    action.qty
                )
                orders += 1
            elif isinstance(action, InputRejected):
                if record is None:
                    log.error("refused with no input behind it: %s", action)
                    continue
                await self._dead_letter(record, action.kind, action.detail)
            else:
                await self._control_actions.deliver(action, record)
        return orders

    async def _flush(self) -> None:
        lost = await self._outbox.flush()
        self.metrics.dead_letters_lost.inc(lost)

    async def _dead_letter(self, record: Record, kind: str, detail: str) -> None:
        self.metrics.invalid_messages.labels(record.topic, kind).inc()
        await self._outbox.dead_letter(record, kind, detail)

    def _record_scenarios(self) -> None:
        """Scenario grids revalue every position once per cell: at most once a second."""
        now = self._clock()
        if now - self._scenarios_at >= _SCENARIO_INTERVAL_S:
            self._scenarios_at = now
            self.metrics.risk.record_scenarios(self.engine.scenario_grids())
