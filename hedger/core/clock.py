"""Timer events from event time, so the live service and a replay fire the same timers.

The shell hands every input's event time to `EventTimer.advance` before the input; when
event time has crossed a multiple of `interval_ns` since the last timer, it returns a
`TimerFired` at the latest multiple crossed (one timer, however long the gap: a quiet
feed does not cause a burst of timers). The first input only sets the clock going.
"""

from __future__ import annotations

from hedger.core.events import TimerFired


class EventTimer:
    def __init__(self, interval_ns: int) -> None:
        if interval_ns <= 0:
            raise ValueError(f"timer interval must be positive, got {interval_ns}")
        self.interval_ns = interval_ns
        self._last: int | None = None

    def advance(self, ts_ns: int) -> TimerFired | None:
        boundary = ts_ns - ts_ns % self.interval_ns
        if self._last is None:
            self._last = boundary
            return None
        if boundary <= self._last:
            return None
        self._last = boundary
        return TimerFired(boundary)

    @property
    def next_ns(self) -> float:
        """The earliest event time whose `advance` fires a timer (infinite before the first
        input, which only sets the clock going)."""
        return float("inf") if self._last is None else self._last + self.interval_ns
