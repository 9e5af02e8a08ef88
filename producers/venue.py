"""The paper exchange's state, pure (no Kafka, no clock): the marks, how far the feed has
reached in event time, the orders working and the fills planned for them, the cancels.

Records go in (`apply_prices`, `take_orders`), event time moves on (`reach`, `stand_still`),
and `fills_due` hands out the planned fills whose time has been reached. A cancel stops the
fills of its order planned after the cancel's time; those at or before it are kept, as the
backtest keeps a fill due at the very time of its order's cancel. `finished` says which
order records may be committed: each one, and every one before it in its partition, is done
(filled, cancelled, or skipped).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from aiokafka.structs import TopicPartition

from hedger.codec import DecodeError, decode_price
from hedger.control_codec import decode_order_event
from hedger.core.events import FillReport, HedgeOrderCancelled, HedgeOrderRecorded, PriceTick
from producers.execution import CostModel, PlannedFill, plan_fills, price_fill
from producers.marks import MarkHistory

log = logging.getLogger(__name__)


class Record(Protocol):
    """What the venue needs of a consumed record (an aiokafka `ConsumerRecord`)."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def value(self) -> bytes | None: ...


@dataclass(slots=True)
class _Entry:
    """One record of the order topic; done when no planned fill is left (a cancel and a
    record that cannot be decoded have none)."""

    partition: TopicPartition
    offset: int
    sequence: int
    order: HedgeOrderRecorded | None = None
    planned: list[PlannedFill] = dataclasses.field(default_factory=list)


class Venue:
    def __init__(self, costs: CostModel) -> None:
        self.costs = costs
        self.marks = MarkHistory()
        self.reached_ns = 0  # event time the feed is known to have reached
        self.prices_ns = 0  # the latest tick's time
        self.orders_filled = 0  # every planned fill made
        self.orders_cancelled = 0  # a cancel stopped some of its planned fills
        self.orders_skipped = 0  # could not be decoded, or a fill could not be priced
        self.fees_charged = 0.0
        self._entries: list[_Entry] = []
        self._sequence = 0
        self._cancels: dict[str, int] = {}  # order id -> the earliest cancel's time
        self._made: set[str] = set()  # fill ids, so an order read twice is not refilled
        self._unfillable: set[str] = set()
        self._ended: set[str] = set()  # order ids counted as filled or cancelled
        self._still: tuple[float, int] | None = None  # (since, reached_ns) while waiting

    def apply_prices(self, records: Iterable[Record]) -> None:
        """Record the mark of every tick, and the feed's progress; anything else is ignored."""
        for record in records:
            try:
                event = decode_price(record.value or b"")
            except DecodeError:
                continue  # vols, quotes and bad ticks carry no mark
            if isinstance(event, PriceTick):
                self.marks.record(event.symbol, event.ts_ns, event.mark)
                self.prices_ns = max(self.prices_ns, event.ts_ns)
                self.reached_ns = max(self.reached_ns, event.ts_ns)

    def take_orders(self, records: Iterable[Record]) -> None:
        """Orders start working; cancels stop fills; bad records are logged and skipped."""
        for record in records:
            entry = _Entry(TopicPartition(record.topic, record.partition), record.offset, 0)
            self._sequence += 1
            entry.sequence = self._sequence
            self._entries.append(entry)
            try:
                event = decode_order_event(record.value or b"")
            except DecodeError as exc:
                self.orders_skipped += 1
                log.warning("skipping undecodable order at %s: %s", _where(record), exc)
                continue
            if isinstance(event, HedgeOrderCancelled):
                self._cancel(event)
            else:
                entry.order = event
                planned = plan_fills(event, self.costs)
                entry.planned = [fill for fill in planned if fill.fill_id not in self._made]
                self._stop(entry, self._cancels.get(event.order_id))

    def reach(self, ts_ns: int) -> None:
        """Event time has reached `ts_ns` (never moves back)."""
        self.reached_ns = max(self.reached_ns, ts_ns)

    def stand_still(self, now_s: float, wait_s: float) -> None:
        """When a planned fill lies past the time reached and that time has stood still for
        `wait_s` (wall clock), take it to have reached the earliest planned fill: a feed
        that stops must not hold fills for ever, and one step at a time, each fill may
        still be cancelled in answer to the one before."""
        upcoming = self.next_fill_ns()
        if upcoming is None or upcoming <= self.reached_ns:
            self._still = None
        elif self._still is None or self._still[1] != self.reached_ns:
            self._still = (now_s, self.reached_ns)
        elif now_s - self._still[0] >= wait_s:
            self.reach(upcoming)
            self._still = None

    def next_fill_ns(self) -> int | None:
        """The time of the earliest planned fill not made nor cancelled, if any."""
        return min((e.planned[0].ts_ns for e in self._entries if e.planned), default=None)

    def fills_due(self, until_ns: int) -> list[FillReport]:
        """The planned fills at or before `until_ns`, made now, in time order (ties in the
        order the orders came, as the backtest takes them)."""
        due = [
            (entry, planned)
            for entry in self._entries
            for planned in entry.planned
            if planned.ts_ns <= until_ns
        ]
        due.sort(key=lambda pair: (pair[1].ts_ns, pair[0].sequence))
        fills = []
        for entry, planned in due:
            entry.planned.remove(planned)
            if entry.order is None or planned.fill_id in self._made:
                continue  # an order read twice (after a rebalance) is filled once
            fill = self._price(entry.order, planned)
            fills += [fill] if fill is not None else []
            if not entry.planned:
                self._done(entry.order.order_id)
        return fills

    def _done(self, order_id: str) -> None:
        if order_id not in self._ended:
            self._ended.add(order_id)
            if order_id not in self._unfillable:
                self.orders_filled += 1

    def finished(self) -> dict[TopicPartition, int]:
        """Per partition, the offset after its last done record with none pending before
        it (what may be committed); those records are forgotten."""
        offsets: dict[TopicPartition, int] = {}
        blocked: set[TopicPartition] = set()
        kept: list[_Entry] = []
        for entry in self._entries:
            if entry.planned or entry.partition in blocked:
                blocked.add(entry.partition)
                kept.append(entry)
            else:
                offsets[entry.partition] = entry.offset + 1
        self._entries = kept
        return offsets

    def _cancel(self, cancel: HedgeOrderCancelled) -> None:
        known = self._cancels.get(cancel.order_id, cancel.ts_ns)
        self._cancels[cancel.order_id] = min(known, cancel.ts_ns)
        for entry in self._entries:
            if entry.order is not None and entry.order.order_id == cancel.order_id:
                self._stop(entry, cancel.ts_ns)

    def _stop(self, entry: _Entry, cancel_ns: int | None) -> None:
        """Drop `entry`'s planned fills after `cancel_ns` (None: no cancel)."""
        if cancel_ns is None:
            return
        kept = [planned for planned in entry.planned if planned.ts_ns <= cancel_ns]
        order_id = entry.order.order_id if entry.order is not None else ""
        if len(kept) < len(entry.planned) and order_id not in self._ended:
            self._ended.add(order_id)
            self.orders_cancelled += 1
        entry.planned = kept

    def _price(self, order: HedgeOrderRecorded, planned: PlannedFill) -> FillReport | None:
        try:
            fill = price_fill(
                order, planned, self.marks.at(order.symbol, planned.ts_ns), self.costs
            )
        except ValueError as exc:
            if order.order_id not in self._unfillable:
                self._unfillable.add(order.order_id)
                self.orders_skipped += 1
            log.warning("cannot fill order %s: %s", order.order_id, exc)
            return None
        self._made.add(planned.fill_id)
        self.fees_charged += fill.fee or 0.0
        return fill


def _where(record: Record) -> str:
    return f"{record.topic}[{record.partition}]@{record.offset}"
