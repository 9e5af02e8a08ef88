"""Where the engine's actions go in the live service: hedge orders and dead letters through
the outbox, the control actions' records through `ControlActions`, each counted in the
metrics; and, at a batch holding a hedge order, the fault tests' crash points.

A batch's records are acknowledged in the background while the next batches are handled:
`end_batch` hands them over, and `settle`, which the commit of their offsets waits for
(`CommitSchedule.commit_soon`), waits for the acknowledgements of every batch ended and
raises the error of a record not written. Waiting in the loop instead, a catch-up stood
still for each order's round trip (on Apache Kafka a sixth of its time,
`benchmarks/service_catch_up.py`). Nothing is committed before its records are written,
so the delivery guarantees are those of waiting in the loop (see `hedger.runtime`).

Exactly once, a batch decided while a transaction is ending, with more records waiting,
is held back whole (`CommitSchedule.hold_sends`): the outbox holds its records, this sink
the batch, and the inputs its offsets, until `CommitSchedule.release_held` sends them in the
next transaction; it settles only from then on. Its `sent` crash point is reached there."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from hedger.adapters.controls import ControlActions
from hedger.adapters.kafka import when_answered
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox, Sends
from hedger.core.actions import Action, InputRejected, SubmitHedgeOrder
from hedger.crash_points import CrashPoints
from hedger.recovery import Record

log = logging.getLogger(__name__)


class ActionSink:
    def __init__(
        self, metrics: Metrics, outbox: Outbox, controls: ControlActions, crash: CrashPoints
    ) -> None:
        self._metrics = metrics
        self._outbox = outbox
        self._controls = controls
        self._crash = crash
        self._orders_queued = 0  # hedge orders queued since the last batch ended
        # Batches ended and not yet settled, oldest first: their sends, and whether they
        # hold a hedge order. One settles at a time (the commit, a snapshot, a rebuild).
        self._unsettled: deque[tuple[Sends, bool]] = deque()
        self._held: list[tuple[Sends, bool]] = []  # batches ended with their records held
        self._settling = asyncio.Lock()

    async def deliver(self, record: Record | None, actions: list[Action]) -> int:
        """Queue what the actions send; returns how many hedge orders they hold. `record`
        is the input behind them (None for decisions on rebuilt state), dead-lettered if
        they refuse it."""
        orders = 0
        for action in actions:
            if isinstance(action, SubmitHedgeOrder):
                if not self._orders_queued:  # the batch's first order
                    self._crash.reached("decided")
                await self._outbox.order(action, record)
                side = action.side.value
                self._metrics.hedge_orders.labels(action.book, action.symbol, side).inc()
                self._metrics.hedge_order_shares.labels(action.book, action.symbol, side).inc(
                    action.qty
                )
                orders += 1
                self._orders_queued += 1
            elif isinstance(action, InputRejected):
                if record is None:
                    log.error("refused with no input behind it: %s", action)
                    continue
                await self.dead_letter(record, action.kind, action.detail)
            else:
                await self._controls.deliver(action, record)
        return orders

    def end_batch(self, on_answered: Callable[[], None] | None = None) -> None:
        """Every record of the batch is queued; `on_answered` is called once the broker has
        answered them all."""
        holds_orders = self._orders_queued > 0
        self._orders_queued = 0
        held = self._outbox.held > 0
        if held:
            self._metrics.batches_held.inc()
        elif holds_orders:
            self._crash.reached("sent")
        sends = self._outbox.take()
        if on_answered is not None:
            when_answered(sends.pending, on_answered)
        if sends.pending or sends.dead_letters or sends.lost:
            (self._held if held else self._unsettled).append((sends, holds_orders))

    @property
    def unsettled(self) -> bool:
        """A batch ended whose acknowledgements were not yet waited for."""
        return bool(self._unsettled)

    @property
    def held(self) -> int:
        """How many records are held back (see the module docstring)."""
        return self._outbox.held

    async def release(self) -> None:
        """Send the records held back; their batches settle from now on."""
        await self._outbox.release()
        for _, holds_orders in self._held:
            if holds_orders:
                self._crash.reached("sent")
        self._unsettled.extend(self._held)
        self._held.clear()

    def drop_held(self) -> None:
        """Never send what is held back (`CommitSchedule.drop_held`)."""
        self._outbox.drop_held()
        self._held.clear()

    async def settle(self) -> None:
        """Wait for the acknowledgements of every batch ended and not held, oldest first."""
        async with self._settling:
            while self._unsettled:
                sends, holds_orders = self._unsettled[0]
                lost = await self._outbox.settle(sends)
                self._unsettled.popleft()
                if holds_orders:
                    self._crash.reached("acknowledged")
                self._metrics.dead_letters_lost.inc(lost)

    async def flush(self) -> None:
        """End the batch and wait for its acknowledgements, and for those of every batch
        before it (held records: once released)."""
        self.end_batch()
        await self.settle()

    def forget_unsettled(self) -> None:
        """Starting over as a restart would: what was not settled is decided again from the
        committed offsets (after fencing, a new producer aborted its transaction)."""
        self._unsettled.clear()

    async def dead_letter(self, record: Record, kind: str, detail: str) -> None:
        self._metrics.invalid_messages.labels(record.topic, kind).inc()
        await self._outbox.dead_letter(record, kind, detail)
