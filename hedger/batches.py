"""The live service's batches: each cycle applies new control records, takes the next
batch of fills and prices the event-time merge hands out, lets the engine decide through
the driver (`hedger.core.driver`, the order the backtest follows too), queues what it
sends, and commits the batch in the background once the broker has acknowledged that
(`hedger.action_sink`; see `hedger.runtime` for the delivery guarantees)."""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable
from typing import cast

from hedger.adapters.input_decoding import Decoded
from hedger.book_metrics import record_books, record_controls
from hedger.codec import DecodeError
from hedger.core.events import PriceTick
from hedger.service_parts import ServiceParts
from hedger.state_rebuild import StateRebuild, freeze_if_crossed

log = logging.getLogger(__name__)

_SCENARIO_INTERVAL_S = 1.0
# While catching up, the books' metrics are set at most this often: a catch-up's batches
# come every few ms (setting every book's gauges after each was 2.5% of its time,
# benchmarks/service_catch_up.py), and a scrape sees only the last. After every batch once
# nothing more waits.
_BOOKS_INTERVAL_S = 0.1


class BatchLoop:
    def __init__(
        self, parts: ServiceParts, state: StateRebuild, clock: Callable[[], float]
    ) -> None:
        self._metrics = parts.metrics
        self._driver = parts.driver
        self._inputs = parts.inputs
        self._commits = parts.commits
        self._receipt = parts.receipt
        self._control = parts.control
        self._sink = parts.sink
        self._snapshots = parts.snapshots
        self._state = state
        self._clock = clock
        self._scenarios_at = -math.inf
        self._books_at = -math.inf
        self._books_stale = False  # a batch's books not yet set in the metrics
        self.in_hand = False  # fetched records being handed to the engine
        self._judged_alike = False  # every record of the batch judged alike on receipt

    async def _poll_controls(self) -> None:
        """Apply new control records at once, even while the feeds are quiet."""
        polled = await self._control.poll()
        for record, event in polled:
            self._metrics.messages_consumed.labels(record.topic).inc()
            if isinstance(event, DecodeError):
                await self._sink.dead_letter(record, event.kind, event.detail)
            else:
                log.warning("control applied: %s", event)
                await self._sink.deliver(record, self._driver.engine.handle(event))
        if polled:
            await self._sink.flush()
            # A transaction holding a cancel or dead letter: committed even mid catch-up
            # (held back behind a batch's records, if any: sent and committed with them).
            self._commits.commit_soon({}, now=True)
            record_controls(self._metrics, self._driver.engine)

    async def cycle(self) -> None:
        await self._poll_controls()
        handled = await self._inputs.next_batch()
        # After the fetch, which gave the commit they wait for time to end.
        await self._commits.release_held()
        if not handled:
            await self._state.snapshot_if_due({})
            # Ends the snapshot's transaction, if any, and commits what earlier batches held
            # back while records waited (held by the merge, they may wait a while).
            self._commits.commit_soon({})
            # Nothing ready (records may be held back by the merge): lag still moves.
            self._inputs.record_lag(self._metrics, {})
            if self._books_stale:
                self._record_books()
            return
        self._receipt.tick_now()
        self._judged_alike = self._receipt.judged_alike([record.timestamp for record, _ in handled])
        tick_stamps_ms: list[int] = []  # per tick-driven order, its tick's Kafka timestamp
        events: list[object] = [decoded for _, decoded in handled]
        index = 0
        self.in_hand = True
        try:
            while index < len(handled):
                index, stamps_ms = await self._handle_from(handled, events, index)
                tick_stamps_ms += stamps_ms
        finally:
            self.in_hand = False
        # Acknowledged in the background: the commit of the batch's offsets waits for it.
        self._sink.end_batch(
            functools.partial(self._observe_latency, tick_stamps_ms) if tick_stamps_ms else None
        )
        offsets = self._inputs.batch_offsets()
        self._snapshots.moved()
        await self._state.snapshot_if_due(offsets)
        self._commits.commit_soon(offsets)
        self._record_books()
        self._record_scenarios()
        self._inputs.record_lag(self._metrics, offsets)

    async def _handle_from(
        self, handled: list[Decoded], events: list[object], start: int
    ) -> tuple[int, list[int]]:
        """Decide and queue what follows `handled[start]`, or the run of ticks it starts;
        return the index after what was handled and, per tick-driven order it queued, the
        Kafka timestamp (ms) of the tick record that caused it. `events` are the decoded
        inputs of `handled`, as the driver reads them."""
        record, decoded = handled[start]
        if self._state.sent_ahead:
            for event in self._state.sent_ahead.take(record):
                self._driver.engine.handle(event)  # sent on this input before a restart
        if isinstance(decoded, DecodeError):
            self._metrics.messages_consumed.labels(record.topic).inc()
            await self._sink.dead_letter(record, decoded.kind, decoded.detail)
            freeze_if_crossed(self._driver.engine, decoded)
            return start + 1, []
        if isinstance(decoded, PriceTick):
            return await self._handle_ticks(handled, events, start)
        step = self._driver.step(events, start)
        if step.timer is not None:
            await self._sink.deliver(record, step.timer.actions)
        self._metrics.messages_consumed.labels(record.topic).inc()
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
        held = self._state.sent_ahead.holds if self._state.sent_ahead else None

        def joins_run(index: int) -> bool:
            record = handled[index][0]
            return kind(record) == untimely and (held is None or not held(record))

        # Judged per tick only where a run could end on a judgment (or something held).
        joins = None if held is None and self._judged_alike else joins_run
        stop = driver.run_end(events, start, joins=joins)
        ticks = cast("list[PriceTick]", events)
        topic, symbol = first.topic, ticks[start].symbol
        timing = self._receipt.tell(ticks[start], first)
        if timing is not None:
            await self._sink.deliver(first, self._driver.engine.handle(timing))
        if untimely is not None:
            self._metrics.untimely_ticks.labels(untimely).inc(stop - start)
        market = self._driver.engine.market.ticks
        accepted_before = market.get(symbol)
        stamps_ms: list[int] = []
        position = start
        while position < stop:
            _, after, actions = driver.step(events, position, joins=joins)
            self._metrics.messages_consumed.labels(topic).inc(after - position)
            # Actions (a dead letter among them) belong to the last tick handled.
            record = handled[after - 1][0]
            stamps_ms += [record.timestamp] * await self._sink.deliver(record, actions)
            position = after
        self._receipt.noted(ticks[stop - 1], handled[stop - 1][0])
        # Only an accepted tick is fresh, and only accepted symbols become labels.
        if market.get(symbol) is not accepted_before:
            self._metrics.last_tick_received.labels(symbol).set_to_current_time()
        return stop, stamps_ms

    def _observe_latency(self, tick_stamps_ms: list[int]) -> None:
        """The batch's orders are answered: each order's latency from its tick's Kafka
        timestamp. Wall clock, as the producer's CreateTime: includes the broker and the
        fetch wait."""
        answered_ms = time.time() * 1000
        for stamp_ms in tick_stamps_ms:
            latency_s = max(answered_ms - stamp_ms, 0.0) / 1000
            self._metrics.tick_to_order_latency.observe(latency_s)

    def _record_books(self) -> None:
        """The books in the metrics, after a batch (see `_BOOKS_INTERVAL_S`) or once a
        catch-up that ended without another batch finds nothing more waiting."""
        now = self._clock()
        self._books_stale = self._inputs.behind and now - self._books_at < _BOOKS_INTERVAL_S
        if not self._books_stale:
            self._books_at = now
            record_books(self._metrics, self._driver.engine)
            record_controls(self._metrics, self._driver.engine)

    def _record_scenarios(self) -> None:
        """Scenario grids revalue every position once per cell: at most once a second."""
        now = self._clock()
        if now - self._scenarios_at >= _SCENARIO_INTERVAL_S:
            self._scenarios_at = now
            self._metrics.risk.record_scenarios(self._driver.engine.scenario_grids())
