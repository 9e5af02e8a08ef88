"""Where the engine's actions go in the live service: hedge orders and dead letters through
the outbox, the control actions' records through `ControlActions`, each counted in the
metrics; and, at a batch holding a hedge order, the fault tests' crash points."""

from __future__ import annotations

import logging

from hedger.adapters.controls import ControlActions
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox
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
        self._orders_queued = 0  # hedge orders queued since the last flush

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

    async def flush(self) -> None:
        """Wait for the batch's acknowledgements (the next step commits it)."""
        holds_orders = self._orders_queued > 0
        self._orders_queued = 0
        if holds_orders:
            self._crash.reached("sent")
        lost = await self._outbox.flush()
        if holds_orders:
            self._crash.reached("acknowledged")
        self._metrics.dead_letters_lost.inc(lost)

    async def dead_letter(self, record: Record, kind: str, detail: str) -> None:
        self._metrics.invalid_messages.labels(record.topic, kind).inc()
        await self._outbox.dead_letter(record, kind, detail)
