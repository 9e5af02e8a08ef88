"""The shell side of controls: the control topic, and delivering refusals, latches, cancels.

The control topic is the single source of truth for kill switches, latches and re-arms.

Every instance reads every partition (no consumer group, nothing committed): on start it
reads the topic from the beginning into the engine before hedging, so a switch set before a
restart is still set after it; then it polls for new records every cycle. Writers are the
HTTP endpoint (`POST /control/kill`, `POST /control/rearm`, `hedger.adapters.control_publisher`)
and the engine itself, when the flip-flop latch stops a book (via the outbox, with the
batch's orders).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from hedger.adapters.kafka import all_partitions, make_consumer
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox
from hedger.adapters.record_signing import RecordSigner, unbelieved
from hedger.adapters.topics import highwaters
from hedger.codec import DecodeError
from hedger.control_codec import (
    control_key,
    decode_control,
    encode_cancel,
    encode_control,
    latch_event,
)
from hedger.core.actions import CancelHedgeOrder, HedgeDenied, LatchBook
from hedger.core.events import ControlEvent
from hedger.recovery import Record, read_to

if TYPE_CHECKING:
    from hedger.config import Settings

log = logging.getLogger(__name__)


class ControlTopic:
    def __init__(
        self,
        bootstrap: str,
        topic: str,
        max_message_bytes: int,
        signer: RecordSigner | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._max_bytes = max_message_bytes
        self._signer = signer  # when set, only records it signed count
        self.consumer: AIOKafkaConsumer = make_consumer(bootstrap, "hedger-control", None)

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign(await all_partitions(self.consumer, self.topic))

    def decode(self, record: Record) -> ControlEvent | DecodeError:
        forged = unbelieved(self._signer, record)
        if forged is not None:
            return forged
        try:
            return decode_control(record.value or b"", self._max_bytes)
        except DecodeError as error:
            return error

    async def replay(self, apply: Callable[[ControlEvent], object]) -> int:
        """Apply every control record now on the topic, in order; returns how many applied.
        Bad records were dead-lettered when first read live, so they are skipped here."""
        ends = await highwaters(self.bootstrap, self.topic)
        targets = {TopicPartition(self.topic, p): end for p, end in ends.items()}
        applied = 0

        async def handle(record: Record) -> None:
            nonlocal applied
            event = self.decode(record)
            if not isinstance(event, DecodeError):
                apply(event)
                applied += 1

        await read_to(self.consumer, targets, handle)
        return applied

    async def poll(self) -> list[tuple[Record, ControlEvent | DecodeError]]:
        """Control records that arrived since the last poll (does not wait)."""
        batch = await self.consumer.getmany(timeout_ms=0)
        return [(record, self.decode(record)) for tp in sorted(batch) for record in batch[tp]]


class ControlActions:
    """Delivers the decision path's other actions: a refusal is counted (by book,
    underlying and reason) and logged once per episode; a latch goes to the control topic
    and a cancel to the order topic, both with the batch (acknowledged before commit)."""

    def __init__(self, metrics: Metrics, outbox: Outbox, settings: Settings) -> None:
        self._metrics = metrics
        self._outbox = outbox
        self._control_topic = settings.control_topic
        self._orders_topic = settings.orders_topic

    async def deliver(
        self, action: HedgeDenied | LatchBook | CancelHedgeOrder, source: Record | None
    ) -> None:
        """`source` is the input the action was decided on (None: on rebuilt state)."""
        if isinstance(action, HedgeDenied):
            self._refused(action)
        elif isinstance(action, LatchBook):
            log.error("book %s latched: %s; re-arm it to resume", action.book, action.detail)
            event = latch_event(action)
            await self._outbox.send(
                self._control_topic, encode_control(event), control_key(event), source
            )
        else:
            log.warning(
                "cancelling order %s of %s: %s", action.order_id, action.book, action.reason
            )
            await self._outbox.send(self._orders_topic, encode_cancel(action), action.book, source)

    def _refused(self, denied: HedgeDenied) -> None:
        self._metrics.order_refusals.labels(denied.book, denied.symbol, denied.reason).inc()
        if denied.new_episode:
            log.warning(
                "not hedging %s %s (%s, policy %s, on %s): %s",
                denied.book,
                denied.symbol,
                denied.reason,
                denied.policy,
                denied.trigger,
                denied.detail,
            )
