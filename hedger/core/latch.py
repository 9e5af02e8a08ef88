"""The flip-flop latch's memory: direction reversals of each book's hedge orders.

A reversal is an order on the other side from the book's previous order in the same
underlying. The order that would be the `reversals`-th reversal of a book within
`window_ns` of event time is refused and the book latched. History is rebuilt from the
order topic on a restart; a re-arm forgets the book's history up to that point, and that
cut-off (`forgotten_until`, owned by the control state) outlives rebuilds of book state.
"""

from __future__ import annotations

from collections import deque

from hedger.core.events import Side


class FlipFlop:
    def __init__(self, reversals: int, window_ns: int, forgotten_until: dict[str, int]) -> None:
        self.reversals = reversals
        self.window_ns = window_ns
        self._last_side: dict[tuple[str, str], Side] = {}
        self._times: dict[str, deque[int]] = {}
        self._latest_ns: dict[str, int] = {}
        self._forgotten_until = forgotten_until

    def trips(self, book: str, symbol: str, side: Side, ts_ns: int) -> bool:
        """True when an order on `side` now would be the reversal that latches `book`."""
        if self._last_side.get((book, symbol), side) is side:
            return False
        times = self._times.get(book, ())
        recent = sum(1 for t in times if ts_ns - t < self.window_ns)
        return recent + 1 >= self.reversals

    def record(self, book: str, symbol: str, side: Side, ts_ns: int) -> None:
        """Remember an order sent (or read back from the order topic on a restart)."""
        if ts_ns <= self._forgotten_until.get(book, -1):
            return
        self._latest_ns[book] = max(ts_ns, self._latest_ns.get(book, ts_ns))
        previous = self._last_side.get((book, symbol))
        self._last_side[(book, symbol)] = side
        if previous is not None and previous is not side:
            times = self._times.setdefault(book, deque())
            times.append(ts_ns)
            while times and ts_ns - times[0] >= self.window_ns:
                times.popleft()

    def forget(self, book: str) -> None:
        """A re-arm: the book's reversals so far no longer count."""
        self._forgotten_until[book] = self._latest_ns.get(book, -1)
        self._times.pop(book, None)
        for key in [key for key in self._last_side if key[0] == book]:
            del self._last_side[key]
