"""The engine's view of the market: last good tick, flat implied vol and vol surface per
underlying."""

from __future__ import annotations

from dataclasses import dataclass, field

from hedger.core.events import PriceTick, VolUpdate
from hedger.core.surface import VolSurface


@dataclass(slots=True)
class MarketState:
    """Survives a rebuild of book state (e.g. on a partition reassignment)."""

    ticks: dict[str, PriceTick] = field(default_factory=dict)
    vols: dict[str, float] = field(default_factory=dict)
    surfaces: dict[str, VolSurface] = field(default_factory=dict)

    def accept_tick(self, tick: PriceTick) -> bool:
        """Record a tick; False for a duplicate or out-of-order one (no later than the last)."""
        last = self.ticks.get(tick.symbol)
        if last is not None and tick.ts_ns <= last.ts_ns:
            return False
        self.ticks[tick.symbol] = tick
        return True

    def last_tick_ns(self, symbol: str) -> int | None:
        tick = self.ticks.get(symbol)
        return None if tick is None else tick.ts_ns

    def accept_vol(self, update: VolUpdate, expiry_ns: int | None = None) -> None:
        """Record a flat vol, or (with `expiry_ns`, the instant of `update.expiry`) a point
        of the surface: a strike's vol, or the whole slice's when it has no strike."""
        if expiry_ns is None:
            self.vols[update.symbol] = update.vol
            return
        surface = self.surfaces.setdefault(update.symbol, VolSurface())
        surface.set_point(expiry_ns, update.strike, update.vol)
