"""Is an underlying's price good enough to trade on? Stale, jumping and crossed feeds.

- Stale: no tick within `stale_after_ns` of event time before the decision.
- Jump: a tick whose mark moved more than `jump_fraction` from the previous tick's mark
  freezes the underlying; so does a crossed quote (bid above ask, dead-lettered by the
  codec). The freeze lifts after `confirm_ticks` fresh ticks in a row, each within
  `jump_fraction` of the one before: the new level is then confirmed. A tick that jumps
  again starts the count over.
- The last good mark is the mark before the newest tick, while not frozen (the newest is
  good only once another tick follows it within the threshold). The price collar checks
  order prices against it, so a single move bigger than the collar but under the jump
  threshold waits for a second tick at the new level.

State survives a rebuild of book state (it is market state, not book state).
"""

from __future__ import annotations

import math
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

    def __post_init__(self) -> None:
        if not (self.stale_after_ns > 0 and 0 < self.jump_fraction < math.inf):
            raise ValueError(f"invalid price guard {self}")
        if self.confirm_ticks < 1:
            raise ValueError(f"invalid price guard {self}: confirm_ticks must be >= 1")


@dataclass(slots=True)
class _Feed:
    ts_ns: int
    mark: float
    good_mark: float | None = None
    frozen: str | None = None
    confirmations: int = 0


class PriceGuard:
    def __init__(self, limits: GuardLimits) -> None:
        self.limits = limits
        self._feeds: dict[str, _Feed] = {}

    def observe(self, symbol: str, ts_ns: int, mark: float) -> None:
        """A tick arrived; duplicates and ticks older than the last have no effect."""
        feed = self._feeds.get(symbol)
        if feed is None:
            self._feeds[symbol] = _Feed(ts_ns, mark, good_mark=mark)
            return
        if ts_ns <= feed.ts_ns:
            return
        jumped = self._jumped(mark, feed.mark)
        previous, feed.ts_ns, feed.mark = feed.mark, ts_ns, mark
        if jumped:
            feed.frozen = f"mark moved more than {self.limits.jump_fraction:.0%} in one tick"
            feed.confirmations = 0
        elif feed.frozen is not None:
            feed.confirmations += 1
            if feed.confirmations >= self.limits.confirm_ticks:
                feed.frozen = None
        if feed.frozen is None:
            feed.good_mark = previous

    def steady_count(self, symbol: str, marks: FloatArray) -> int:
        """How many of the next ticks' `marks` (in order) leave the feed as it is: none
        unless it has a mark and is not frozen, then those before the first jump."""
        feed = self._feeds.get(symbol)
        if feed is None or feed.frozen is not None or not len(marks):
            return 0
        previous = np.concatenate(([feed.mark], marks[:-1]))
        jumped = self._jumped(marks, previous)
        return int(jumped.argmax()) if jumped.any() else len(marks)

    def _jumped(self, mark: Any, previous: Any) -> Any:
        """True (elementwise, for arrays) where a mark moved more than the jump threshold."""
        return abs(mark / previous - 1.0) > self.limits.jump_fraction

    def crossed(self, symbol: str, ts_ns: int) -> None:
        """A crossed quote arrived: freeze until confirmed by fresh ticks."""
        feed = self._feeds.get(symbol)
        if feed is None or ts_ns <= feed.ts_ns:
            return
        feed.frozen = "crossed quote (bid above ask)"
        feed.confirmations = 0

    def last_good_mark(self, symbol: str) -> float | None:
        feed = self._feeds.get(symbol)
        return None if feed is None else feed.good_mark

    def refusal(self, symbol: str, ts_ns: int) -> tuple[str, str] | None:
        """(reason, detail) when `symbol`'s price may not be traded on at `ts_ns`."""
        feed = self._feeds.get(symbol)
        if feed is None:
            return "stale_price", "no tick seen"
        age_ns = ts_ns - feed.ts_ns
        if age_ns > self.limits.stale_after_ns:
            return "stale_price", f"last tick {age_ns / 1e9:.1f} s old"
        if feed.frozen is not None:
            needed = self.limits.confirm_ticks - feed.confirmations
            return "price_frozen", f"{feed.frozen}; {needed} confirming tick(s) to go"
        return None
