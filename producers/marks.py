"""Marks over event time, so a fill is priced at the market as of the order, not of now.

When a recording is replayed faster than real time, the exchange reads ticks far ahead of
the orders they cause; pricing at the latest tick would turn that look-ahead into fake
slippage. `at(symbol, ts)` answers with the last mark at or before `ts`.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

# Per symbol; far more than an order can lag its tick, small next to a day of ticks.
_KEEP = 100_000


class MarkHistory:
    def __init__(self, keep: int = _KEEP) -> None:
        self._keep = keep
        self._times: dict[str, list[int]] = defaultdict(list)
        self._marks: dict[str, list[float]] = defaultdict(list)

    def __contains__(self, symbol: str) -> bool:
        return bool(self._times.get(symbol))

    def record(self, symbol: str, ts_ns: int, mark: float) -> None:
        times, marks = self._times[symbol], self._marks[symbol]
        at = bisect.bisect_right(times, ts_ns)  # in order, this is the end: an append
        times.insert(at, ts_ns)
        marks.insert(at, mark)
        if len(times) > 2 * self._keep:
            del times[: -self._keep], marks[: -self._keep]

    def at(self, symbol: str, ts_ns: int) -> float | None:
        """The last mark at or before `ts_ns`, or None when there is none."""
        times = self._times.get(symbol)
        if not times:
            return None
        index = bisect.bisect_right(times, ts_ns)
        return self._marks[symbol][index - 1] if index else None
