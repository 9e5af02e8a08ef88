"""Notional caps on event time: what a book, and all books together, may send in a minute.

Over any 60 s of event time, the notional (shares × price: the limit price, or the mark) of
the hedge orders that left stays at or below the cap: an order that would take it over is
refused (`notional_cap_book`, `notional_cap_total`) until older orders leave the window.
A rate limit counts orders, not their size; a per-order notional limit bounds one order;
this bounds a run of them, such as a venue that keeps cancelling, or a market moving fast.
Orders read back from the order topic on a restart take their notional again, like their
rate-limit tokens, so a restart does not reopen the window.
"""

from __future__ import annotations

import math
from collections import deque

from hedger.core.controls import Refusal

WINDOW_NS = 60_000_000_000


class NotionalWindow:
    """The notional of the orders of the last `WINDOW_NS` of event time."""

    def __init__(self) -> None:
        self._orders: deque[tuple[int, float]] = deque()
        self._sum = 0.0
        self._latest_ns = -math.inf

    def used(self, ts_ns: int) -> float:
        """The notional still in the window at `ts_ns` (time never runs back in a window)."""
        self._latest_ns = max(self._latest_ns, ts_ns)
        orders = self._orders
        while orders and orders[0][0] <= self._latest_ns - WINDOW_NS:
            self._sum -= orders.popleft()[1]
        if not orders:
            self._sum = 0.0  # no rounding left behind by the subtractions
        return self._sum

    def take(self, ts_ns: int, notional: float) -> None:
        self.used(ts_ns)
        self._orders.append((max(ts_ns, int(self._latest_ns)), notional))
        self._sum += notional


class NotionalCaps:
    """A window per book, and one for all books."""

    def __init__(self, total_cap: float) -> None:
        self._total_cap = total_cap
        self._total = NotionalWindow()
        self._books: dict[str, NotionalWindow] = {}

    def refusal(self, book: str, cap: float, notional: float, ts_ns: int) -> Refusal | None:
        """(reason, detail) when an order of `notional` for `book` may not leave at `ts_ns`."""
        for reason, window, limit in (
            ("notional_cap_book", self._window(book), cap),
            ("notional_cap_total", self._total, self._total_cap),
        ):
            used = window.used(ts_ns)
            if not used + notional <= limit:
                return reason, (
                    f"{used:,.0f} sent in the last minute + {notional:,.0f} > {limit:,.0f}"
                )
        return None

    def take(self, book: str, notional: float, ts_ns: int) -> None:
        self._window(book).take(ts_ns, notional)
        self._total.take(ts_ns, notional)

    def _window(self, book: str) -> NotionalWindow:
        window = self._books.get(book)
        if window is None:
            window = self._books[book] = NotionalWindow()
        return window
