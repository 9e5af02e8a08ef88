"""The mark each option expiry instant settles at, per underlying, kept by the market.

An option settles at the mark of the last tick of its underlying stamped at or before its
expiry instant (the tick stamped at the instant itself, when there is one), whenever its
fill is read: before the tick that passed the instant, or after it (a fill the event-time
merge stopped waiting for, or one re-read by a rebuild that kept the market). So the book
stays a function of its fills and the ticks, whatever order they arrive in. Instants before
the market's first tick settle at that tick's mark: nothing earlier was seen.

The expiry instants are the configured expiry time on every calendar day, whether or not
an option held expires then: a fill read later may be of one that does. The market keeps
the tick that was the last at or before each instant it passed, about one a day per
underlying (`MarketState.accept_tick`, and `accept_run` for ticks taken in one pass).
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hedger.core.events import PriceTick
from hedger.core.instruments import NANOS_PER_SECOND, expiry_instant_ns


@dataclass(frozen=True, slots=True)
class ExpiryCalendar:
    """Options expire at `expiry_time` in `zone`, on any day."""

    expiry_time: dt.time
    zone: ZoneInfo

    def first_instant_from(self, ts_ns: int) -> int:
        """The first expiry instant at or after `ts_ns`."""
        day = dt.datetime.fromtimestamp(ts_ns // NANOS_PER_SECOND, self.zone).date()
        instant_ns = expiry_instant_ns(day, self.expiry_time, self.zone)
        if instant_ns < ts_ns:
            instant_ns = expiry_instant_ns(day + dt.timedelta(days=1), self.expiry_time, self.zone)
        return instant_ns


@dataclass(slots=True)
class ExpiryMarks:
    """One underlying's: see the module docstring."""

    first_mark: float
    next_instant_ns: int  # the first expiry instant at or after the last tick
    # The ticks that were the last at or before an instant the market has passed, in order.
    last_before_ns: list[int] = field(default_factory=list)
    last_before_marks: list[float] = field(default_factory=list)

    @classmethod
    def starting_at(cls, tick: PriceTick, calendar: ExpiryCalendar) -> ExpiryMarks:
        return cls(tick.mark, calendar.first_instant_from(tick.ts_ns))

    def passed(self, last: PriceTick, tick: PriceTick, calendar: ExpiryCalendar) -> None:
        """`tick` was accepted after `last`."""
        if tick.ts_ns > self.next_instant_ns:
            # `last` is the last tick at or before every instant from the next one to `tick`.
            self.last_before_ns.append(last.ts_ns)
            self.last_before_marks.append(last.mark)
            self.next_instant_ns = calendar.first_instant_from(tick.ts_ns)

    def mark_at(self, instant_ns: int, last: PriceTick) -> float:
        """The settlement mark of an instant the market has reached (`last`: its last tick)."""
        if last.ts_ns <= instant_ns:  # reached, not passed: `last` is stamped at it
            return last.mark
        index = bisect_right(self.last_before_ns, instant_ns)
        return self.last_before_marks[index - 1] if index else self.first_mark
