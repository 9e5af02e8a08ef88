"""The engine's view of the market: last good tick, flat implied vol and vol surface per
underlying, and the marks the option expiry instants its ticks passed settle at."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from hedger.core.events import PriceTick, VolUpdate
from hedger.core.expiry_marks import ExpiryCalendar, ExpiryMarks
from hedger.core.surface import VolSurface


@dataclass(slots=True)
class MarketState:
    """Survives a rebuild of book state (e.g. on a partition reassignment)."""

    calendar: ExpiryCalendar
    ticks: dict[str, PriceTick] = field(default_factory=dict)
    vols: dict[str, float] = field(default_factory=dict)
    surfaces: dict[str, VolSurface] = field(default_factory=dict)
    # Kept with the ticks: a rebuild that keeps the market re-reads fills of options whose
    # expiry its ticks have passed since, and settles them as they settled the first time.
    expiry_marks: dict[str, ExpiryMarks] = field(default_factory=dict)

    def accept_tick(self, tick: PriceTick) -> bool:
        """Record a tick; False for a duplicate or out-of-order one (no later than the last)."""
        last = self.ticks.get(tick.symbol)
        if last is None:
            self.expiry_marks[tick.symbol] = ExpiryMarks.starting_at(tick, self.calendar)
        elif tick.ts_ns <= last.ts_ns:
            return False
        else:
            self.expiry_marks[tick.symbol].passed(last, tick, self.calendar)
        self.ticks[tick.symbol] = tick
        return True

    def accept_run(self, ticks: Sequence[PriceTick], start: int, end: int) -> None:
        """Record ``ticks[start:end]``, of one underlying, known to be in order and newer
        than its last one (taken in one pass, `hedger.core.tick_runs`): only the newest is
        kept, and the last before each expiry instant they pass."""
        newest = ticks[end - 1]
        marks = self.expiry_marks[newest.symbol]
        if newest.ts_ns > marks.next_instant_ns:
            last = self.ticks[newest.symbol]
            for index in range(start, end):
                marks.passed(last, ticks[index], self.calendar)
                last = ticks[index]
        self.ticks[newest.symbol] = newest

    def last_tick_ns(self, symbol: str) -> int | None:
        tick = self.ticks.get(symbol)
        return None if tick is None else tick.ts_ns

    def settlement_mark(self, symbol: str, expiry_ns: int) -> float:
        """What options on `symbol` expiring at `expiry_ns`, an instant its last tick is at
        or past, settle at (`hedger.core.expiry_marks`)."""
        return self.expiry_marks[symbol].mark_at(expiry_ns, self.ticks[symbol])

    def accept_vol(self, update: VolUpdate, expiry_ns: int | None = None) -> None:
        """Record a flat vol, or (with `expiry_ns`, the instant of `update.expiry`) a point
        of the surface: a strike's vol, or the whole slice's when it has no strike."""
        if expiry_ns is None:
            self.vols[update.symbol] = update.vol
            return
        surface = self.surfaces.setdefault(update.symbol, VolSurface())
        surface.set_point(expiry_ns, update.strike, update.vol)
