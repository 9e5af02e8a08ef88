"""The engine's view of the market: last good tick and flat implied vol per underlying."""

from __future__ import annotations

from dataclasses import dataclass, field

from hedger.core.events import PriceTick, VolUpdate


@dataclass(slots=True)
class MarketState:
    """Survives a rebuild of book state (e.g. on a partition reassignment)."""

    ticks: dict[str, PriceTick] = field(default_factory=dict)
    vols: dict[str, float] = field(default_factory=dict)

    def accept_tick(self, tick: PriceTick) -> bool:
        """Record a tick; False for a duplicate or out-of-order one (no later than the last)."""
        last = self.ticks.get(tick.symbol)
        if last is not None and tick.ts_ns <= last.ts_ns:
            return False
        self.ticks[tick.symbol] = tick
        return True

    def accept_vol(self, update: VolUpdate) -> bool:
        """Record a flat vol. Surface points (with expiry or strike) are not priced yet."""
        if update.expiry is not None or update.strike is not None:
            return False
        self.vols[update.symbol] = update.vol
        return True
