"""Is an underlying's price good enough to trade on? Stale, jumping, crossed, stuck, late.

- Stale: no tick within `stale_after_ns` of event time before the decision.
- Jump: a tick whose mark moved more than `jump_fraction` from the previous tick's mark
  freezes the underlying; so does a crossed quote (bid above ask, dead-lettered by the
  codec). The freeze lifts after `confirm_ticks` fresh ticks in a row, each within
  `jump_fraction` of the one before: the new level is then confirmed. A tick that jumps
  again starts the count over.
- Stuck: the mark has not changed for `stuck_after_ns` of event time while another
  underlying's has (a feed repeating its last value while the market moves); it lifts
  with the next change. 0: never.
- Late or skewed on the wall clock (`FeedTiming`, judged by the shell, which knows when a
  tick arrived): set until the shell says the ticks are on time again.
- The last good mark is the mark before the newest tick, while not frozen (the newest is
  good only once another tick follows it within the threshold). The price collar checks
  order prices against it, so a single move bigger than the collar but under the jump
  threshold waits for a second tick at the new level.
- Both thresholds are for moves over up to `move_horizon_ns`; a move over a longer gap is
  held to them times sqrt(gap / horizon), as a diffusing price's typical move grows: with
  the 4-hour default, a daily close's move meets a 24% jump threshold and a 12% collar (a
  weekend's 42% and 21%), wide enough for the 11.6% of an index's worst days and still
  tight on a misplaced decimal or an unadjusted split. Tick data never widens them.

State survives a rebuild of book state (it is market state, not book state).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class GuardLimits:
    stale_after_ns: int = 10_000_000_000
    jump_fraction: float = 0.10
    confirm_ticks: int = 3
    stuck_after_ns: int = 300_000_000_000
    move_horizon_ns: int = 4 * 3600 * 1_000_000_000  # 0: thresholds never widen

    def __post_init__(self) -> None:
        if not (self.stale_after_ns > 0 and 0 < self.jump_fraction < math.inf):
            raise ValueError(f"invalid price guard {self}")
        if self.stuck_after_ns < 0 or self.move_horizon_ns < 0:
            raise ValueError(f"invalid price guard {self}: time spans must be >= 0")
        if self.confirm_ticks < 1:
            raise ValueError(f"invalid price guard {self}: confirm_ticks must be >= 1")

    def widening(self, gap_ns: Any) -> Any:
        """The factor a move threshold grows by over `gap_ns` (elementwise for arrays)."""
        horizon = self.move_horizon_ns or math.inf
        return np.sqrt(np.maximum(np.asarray(gap_ns) / horizon, 1.0))


@dataclass(slots=True)
class _Feed:
    ts_ns: int
    mark: float
    good_mark: float | None = None
    good_ns: int = 0  # the good mark's tick time
    frozen: str | None = None
    confirmations: int = 0
    changed_ns: int = 0  # when the mark last changed (its first tick counts)


class PriceGuard:
    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self._feeds: dict[str, _Feed] = {}
        self._timing: dict[str, tuple[str, str]] = {}  # symbol -> (problem, detail)
        # The two latest mark changes of distinct underlyings, (ts_ns, symbol), newest
        # first: the latest change of any other underlying, at no cost per underlying.
        self._first: tuple[int, str] | None = None
        self._second: tuple[int, str] | None = None

    def observe(self, symbol: str, ts_ns: int, mark: float, *, moves: bool = True) -> None:
        """A tick arrived; duplicates and ticks older than the last have no effect. With
        `moves` False, a change of mark is not noted (the caller calls `moved`)."""
        feed = self._feeds.get(symbol)
        if feed is None:
            self._feeds[symbol] = _Feed(ts_ns, mark, mark, good_ns=ts_ns, changed_ns=ts_ns)
            self._changed(symbol, ts_ns)
            return
        if ts_ns <= feed.ts_ns:
            return
        if moves and mark != feed.mark:
            feed.changed_ns = ts_ns
            self._changed(symbol, ts_ns)
        threshold = self.limits.jump_fraction * self.limits.widening(ts_ns - feed.ts_ns)
        jumped = abs(mark / feed.mark - 1.0) > threshold
        previous, previous_ns = feed.mark, feed.ts_ns
        feed.ts_ns, feed.mark = ts_ns, mark
        if jumped:
            feed.frozen = f"mark moved more than {threshold:.1%} in one tick"
            feed.confirmations = 0
        elif feed.frozen is not None:
            feed.confirmations += 1
            if feed.confirmations >= self.limits.confirm_ticks:
                feed.frozen = None
        if feed.frozen is None:
            feed.good_mark, feed.good_ns = previous, previous_ns

    def took_steady(self, symbol: str, last: Sequence[tuple[int, float]]) -> None:
        """A run of steady ticks (see `steady_count`) was taken in one pass; `last` is the
        (ts_ns, mark) of its last one or two ticks. Leaves what observing each would: none
        jumped, so the feed stays unfrozen and its good mark is the one before the newest.
        (The caller notes when the mark last changed, with `moved`.)"""
        feed = self._feeds[symbol]
        feed.good_ns, feed.good_mark = (feed.ts_ns, feed.mark) if len(last) == 1 else last[-2]
        feed.ts_ns, feed.mark = last[-1]

    def steady_count(self, symbol: str, marks: FloatArray, times: npt.NDArray[np.int64]) -> int:
        """How many of the next ticks (`marks` at `times`, in order) leave the feed as it
        is: none unless it has a mark and is not frozen, then those before the first jump."""
        feed = self._feeds.get(symbol)
        if feed is None or feed.frozen is not None or not len(marks):
            return 0
        previous = np.concatenate(([feed.mark], marks[:-1]))
        gaps = times - np.concatenate(([feed.ts_ns], times[:-1]))
        threshold = self.limits.jump_fraction * self.limits.widening(gaps)
        jumped = abs(marks / previous - 1.0) > threshold
        return int(jumped.argmax()) if jumped.any() else len(marks)

    def crossed(self, symbol: str, ts_ns: int) -> None:
        """A crossed quote arrived: freeze until confirmed by fresh ticks."""
        feed = self._feeds.get(symbol)
        if feed is None or ts_ns <= feed.ts_ns:
            return
        feed.frozen = "crossed quote (bid above ask)"
        feed.confirmations = 0

    def moved(self, symbol: str, ts_ns: int) -> None:
        """The mark last changed at `ts_ns`, within a run of steady ticks taken in one pass
        (`observe` saw only its last two, against the mark before the run)."""
        feed = self._feeds.get(symbol)
        if feed is not None:
            feed.changed_ns = ts_ns
            self._changed(symbol, ts_ns)

    def _changed(self, symbol: str, ts_ns: int) -> None:
        # On every tick that moves a mark: two slots compared, nothing built but the entry.
        first, second = self._first, self._second
        if first is not None and first[1] == symbol:
            first, second = second, None
        elif second is not None and second[1] == symbol:
            second = None
        entry = (ts_ns, symbol)
        if first is None or ts_ns >= first[0]:
            first, second = entry, first
        elif second is None or ts_ns >= second[0]:
            second = entry
        self._first, self._second = first, second

    def mark(self, symbol: str) -> float | None:
        feed = self._feeds.get(symbol)
        return None if feed is None else feed.mark

    def timing(self, symbol: str, problem: str | None, detail: str) -> None:
        if problem is None:
            self._timing.pop(symbol, None)
        else:
            self._timing[symbol] = (problem, detail)

    def blocked(self) -> dict[str, str]:
        """Each underlying's reason not to trade now, at its newest tick (stale aside)."""
        reasons = {}
        for symbol, feed in self._feeds.items():
            refusal = self._distrust(symbol, feed, feed.ts_ns)
            if refusal is not None:
                reasons[symbol] = refusal[0]
        return reasons

    def last_good_mark(self, symbol: str) -> float | None:
        feed = self._feeds.get(symbol)
        return None if feed is None else feed.good_mark

    def collar(self, symbol: str, ts_ns: int, collar: float) -> float:
        """The price collar for an order at `ts_ns`: `collar`, widened over the time since
        the last good mark's tick."""
        feed = self._feeds.get(symbol)
        return (
            collar if feed is None else collar * float(self.limits.widening(ts_ns - feed.good_ns))
        )

    def refusal(self, symbol: str, ts_ns: int) -> tuple[str, str] | None:
        """(reason, detail) when `symbol`'s price may not be traded on at `ts_ns`."""
        feed = self._feeds.get(symbol)
        if feed is None:
            return "stale_price", "no tick seen"
        age_ns = ts_ns - feed.ts_ns
        if age_ns > self.limits.stale_after_ns:
            return "stale_price", f"last tick {age_ns / 1e9:.1f} s old"
        return self._distrust(symbol, feed, ts_ns)

    def _distrust(self, symbol: str, feed: _Feed, ts_ns: int) -> tuple[str, str] | None:
        if feed.frozen is not None:
            needed = self.limits.confirm_ticks - feed.confirmations
            return "price_frozen", f"{feed.frozen}; {needed} confirming tick(s) to go"
        timing = self._timing.get(symbol)
        if timing is not None:
            return timing
        return self._stuck(symbol, feed, ts_ns)

    def _stuck(self, symbol: str, feed: _Feed, ts_ns: int) -> tuple[str, str] | None:
        window_ns = self.limits.stuck_after_ns
        if not window_ns or ts_ns - feed.changed_ns < window_ns:
            return None
        latest = (
            self._second if self._first is not None and self._first[1] == symbol else self._first
        )
        if latest is None or latest[0] <= ts_ns - window_ns:
            return None  # no other underlying moved meanwhile: nothing to hold this one to
        moved_ns, other = latest
        return "stuck_price", (
            f"{symbol} unchanged at {feed.mark} for {(ts_ns - feed.changed_ns) / 1e9:.0f} s"
            f" while {other} moved {(ts_ns - moved_ns) / 1e9:.0f} s ago"
        )
