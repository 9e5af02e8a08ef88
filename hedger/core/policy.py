"""When and how much to hedge.

Band policy: when |net delta − target| exceeds the band, trade back to the target, rounded
to whole lots (to the nearest lot; nothing when that rounds to zero), and at most once per
`min_interval_ns` per book and underlying. Net delta here counts working orders, so a delta
already being hedged is never hedged again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BandPolicy:
    band_shares: float
    target_delta: float = 0.0
    lot_size: float = 1.0
    min_interval_ns: int = 0
    name: str = "band"

    def __post_init__(self) -> None:
        # Written so that NaN fails every test: a NaN band would hedge on every input and a
        # NaN lot or target would crash in round(). An infinite band means "never hedge".
        valid = (
            self.band_shares >= 0
            and 0 < self.lot_size < math.inf
            and math.isfinite(self.target_delta)
            and self.min_interval_ns >= 0
        )
        if not valid:
            raise ValueError(f"invalid band policy {self}")

    def hedge_quantity(self, net_delta: float, ts_ns: int, last_order_ts_ns: int | None) -> float:
        """Signed shares to trade now (positive buys), or 0.0 for no order."""
        if abs(net_delta - self.target_delta) <= self.band_shares:
            return 0.0
        if last_order_ts_ns is not None and ts_ns - last_order_ts_ns < self.min_interval_ns:
            return 0.0
        lots = round((self.target_delta - net_delta) / self.lot_size)
        return float(lots * self.lot_size)
