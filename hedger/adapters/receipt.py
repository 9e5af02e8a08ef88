"""Ticks judged on the wall clock when handled: too old, or stamped in this host's future.

Event time cannot tell a tick that waited 15 s behind a stall, or a feed whose host clock
runs ahead, from a fresh one: only the record's Kafka timestamp (the producer's CreateTime,
or the broker's LogAppendTime) against this host's clock can. A tick older than
`max_tick_age_ms`, or stamped more than `max_clock_skew_ms` ahead, still moves the mark, but
nothing is hedged on its underlying until a tick arrives on time (`FeedTiming` tells the
engine when that changes). The judgment uses the time the tick is handled, not fetched: a
tick held back by the event-time merge is as old as it is when it would trade.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypedDict

from hedger.core.events import FeedTiming, PriceTick
from hedger.recovery import Record

Problem = tuple[str, str] | None  # (problem, detail), or None when on time


class ReceiptState(TypedDict):
    told: dict[str, str | None]
    stamps: dict[str, int]


class ReceiptClock:
    def __init__(
        self, max_age_ms: int, max_skew_ms: int, wall_ms: Callable[[], float] | None = None
    ) -> None:
        self._max_age_ms = max_age_ms
        self._max_skew_ms = max_skew_ms
        self._wall_ms = wall_ms or (lambda: time.time() * 1000)
        self._now_ms = self._wall_ms()
        # Per underlying: the problem the engine was last told, and its last tick's stamp.
        self._told: dict[str, str | None] = {}
        self._stamp_ms: dict[str, int] = {}

    def tick_now(self) -> None:
        """Read the wall clock once for the batch about to be handled."""
        self._now_ms = self._wall_ms()

    def kind(self, record: Record) -> str | None:
        """The judgment of the tick in `record` now: late_tick, clock_skew or None."""
        return self._kind(record.timestamp)

    def _kind(self, stamp_ms: int) -> str | None:
        if stamp_ms < 0:  # no timestamp: nothing to judge by
            return None
        age_ms = self._now_ms - stamp_ms
        if self._max_age_ms and age_ms > self._max_age_ms:
            return "late_tick"
        if self._max_skew_ms and -age_ms > self._max_skew_ms:
            return "clock_skew"
        return None

    def judged_alike(self, stamps_ms: Sequence[int]) -> bool:
        """Every tick stamped `stamps_ms` (none without a timestamp) is judged the same now:
        then a run of them is not judged tick by tick. The judgment only changes twice as
        the stamp grows (late, on time, ahead): the oldest and the newest tell."""
        oldest, newest = min(stamps_ms, default=0), max(stamps_ms, default=0)
        return oldest >= 0 and self._kind(oldest) == self._kind(newest)

    def tell(self, tick: PriceTick, record: Record) -> FeedTiming | None:
        """What the engine must be told before `tick`, if its judgment changed."""
        return self._tell(tick.symbol, tick.ts_ns, record.timestamp)

    def noted(self, tick: PriceTick, record: Record) -> None:
        """The newest tick of its underlying handled or replayed: its stamp is kept."""
        self._stamp_ms[tick.symbol] = record.timestamp

    def state(self) -> ReceiptState:
        """What a snapshot keeps: per underlying, what the engine was last told and the
        stamp of its last tick (the ticks before a snapshot are not read again)."""
        return {"told": dict(self._told), "stamps": dict(self._stamp_ms)}

    def restore(self, state: ReceiptState) -> None:
        """Back to `state`, with the engine of the same snapshot."""
        self._told = dict(state["told"])
        self._stamp_ms = dict(state["stamps"])

    def after_rebuild(self, last_ts_ns: Callable[[str], int | None]) -> list[FeedTiming]:
        """Each underlying's last tick judged now, for the decisions on the rebuilt state:
        a mark last heard of an hour ago is not traded on at start."""
        self.tick_now()
        changes = []
        for symbol, stamp_ms in self._stamp_ms.items():
            ts_ns = last_ts_ns(symbol)
            timing = None if ts_ns is None else self._tell(symbol, ts_ns, stamp_ms)
            if timing is not None:
                changes.append(timing)
        return changes

    def _tell(self, symbol: str, ts_ns: int, stamp_ms: int) -> FeedTiming | None:
        problem = self._judge(stamp_ms)
        kind = None if problem is None else problem[0]
        if self._told.get(symbol) == kind:
            return None
        self._told[symbol] = kind
        return FeedTiming(symbol, ts_ns, kind, "" if problem is None else problem[1])

    def _judge(self, stamp_ms: int) -> Problem:
        kind = self._kind(stamp_ms)
        if kind is None:
            return None
        age_s = (self._now_ms - stamp_ms) / 1000
        if kind == "late_tick":
            return kind, f"tick {age_s:.1f} s old (HEDGER_MAX_TICK_AGE_MS={self._max_age_ms})"
        return kind, (
            f"tick stamped {-age_s:.1f} s ahead of this host's clock"
            f" (HEDGER_MAX_CLOCK_SKEW_MS={self._max_skew_ms})"
        )
