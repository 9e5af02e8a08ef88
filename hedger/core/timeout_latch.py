"""The timeout latch's memory: working-order timeouts of each book since its last hedge fill.

A venue that takes orders and never fills them makes the working-order timeout cancel and
re-send without end (tried: one 5,295-share delta became 24 orders and 23 cancels, 127,080
shares). The `limit`-th timeout of a book with no fill of one of its hedge orders since
latches the book, like the flip-flop latch. Kept as event times, so the count is the same
whatever order a rebuild reads cancels (order topic) and fills (fill topic) in; a re-arm
forgets the book's timeouts up to that point, and that cut-off (owned by the control state)
outlives rebuilds of book state.
"""

from __future__ import annotations


class TimeoutLatch:
    def __init__(self, limit: int, forgotten_until: dict[str, int]) -> None:
        self.limit = limit  # 0: never latches
        self._timeouts: dict[str, list[int]] = {}
        self._filled_ns: dict[str, int] = {}
        self._forgotten_until = forgotten_until

    def timed_out(self, book: str, ts_ns: int) -> None:
        """An order of `book` cancelled by the timeout (live, or read back on a restart)."""
        self._timeouts.setdefault(book, []).append(ts_ns)

    def filled(self, book: str, ts_ns: int) -> None:
        """A fill of one of `book`'s hedge orders."""
        self._filled_ns[book] = filled_ns = max(ts_ns, self._filled_ns.get(book, ts_ns))
        self._timeouts[book] = [t for t in self._timeouts.get(book, ()) if t > filled_ns]

    def unfilled(self, book: str) -> int:
        """The book's timeouts since its last hedge fill (and its last re-arm)."""
        since = max(self._filled_ns.get(book, -1), self._forgotten_until.get(book, -1))
        return sum(1 for t in self._timeouts.get(book, ()) if t > since)

    def trips(self, book: str) -> bool:
        return self.limit > 0 and self.unfilled(book) >= self.limit

    def forget(self, book: str) -> None:
        """A re-arm: the book's timeouts so far no longer count."""
        latest = max(self._timeouts.get(book) or [-1])
        self._forgotten_until[book] = max(latest, self._forgotten_until.get(book, -1))
