"""Runs of ticks on one underlying taken in one pass, with the results of one at a time.

Most ticks of a busy feed only move the market: every book's net delta stays inside its
band, so no decision does anything. `TickRuns.pass_steady` finds, for the ticks from
`start`, how many are such ticks, proven with numbers identical to those the one-by-one
path would compute (`hedger.core.delta_path`: each book's option delta at each tick, to
the bit), and applies their effects on state: the last tick is the underlying's mark, the
price guard has seen them (and when the mark last changed), an episode of refusals ends,
and the book Greeks are those of the last one. The Greeks of the ticks before it are never
read, so they are not computed.

A tick is taken in the pass only when all of this holds; otherwise it, and every tick
after it, goes the one-by-one way:
* the underlying is European at a flat vol (no surface), with a last tick, and the ticks
  are newer than it and in order; no option expires by the tick;
* the price guard is not frozen and the tick does not jump;
* while live, every book holding the underlying either has a timed policy (ticks never
  trade it) or has a band that depends on the mark alone (shares or currency width), no
  Leland adjustment and no working option orders, and its net delta at the tick is inside
  that band.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hedger.core.book import Holding
from hedger.core.decisions import HedgeDesk
from hedger.core.delta_path import book_deltas_along
from hedger.core.events import PriceTick
from hedger.core.market import MarketState
from hedger.core.option_orders import OptionHedger
from hedger.core.price_guard import PriceGuard
from hedger.core.revaluation import Revaluation
from hedger.core.risk import OptionColumns

# Ticks examined in the first look ahead; each look that finds all of them steady doubles
# it, so a long steady run costs few compiled calls.
FIRST_LOOK = 16


class TickRuns:
    def __init__(
        self,
        market: MarketState,
        guard: PriceGuard,
        revaluation: Revaluation,
        holdings: dict[tuple[str, str], Holding],
        desk: HedgeDesk,
        option_hedger: OptionHedger,
        books_holding: Callable[[str], list[str]],
        is_live: Callable[[], bool],
        max_price: float,
    ) -> None:
        self._market = market
        self._max_price = max_price
        self._guard = guard
        self._revaluation = revaluation
        self._holdings = holdings
        self._desk = desk
        self._option_hedger = option_hedger
        self._books_holding = books_holding
        self._is_live = is_live

    def pass_steady(self, ticks: Sequence[PriceTick], start: int, stop: int) -> int:
        """Take the steady ticks from ``ticks[start]`` on, before ``stop``; return the index
        of the first tick not taken (``stop`` when all were)."""
        index, look = start, FIRST_LOOK
        while index < stop:
            end = min(stop, index + look)
            steady = self._steady_count(ticks, index, end)
            if steady:
                self._apply(ticks, index, index + steady)
            index += steady
            if index < end:
                break
            look *= 2
        if index > start:
            # The Greeks as of the last tick taken: the next tick may not revalue (a stale
            # one, another underlying's, or none).
            newest = ticks[index - 1]
            self._revaluation.revalue(newest.symbol, newest.mark, newest.ts_ns)
        return index

    def _steady_count(self, ticks: Sequence[PriceTick], start: int, end: int) -> int:
        symbol = ticks[start].symbol
        last = self._market.ticks.get(symbol)
        columns = self._revaluation.columns_of(symbol)
        if last is None or symbol in self._market.surfaces:
            return 0
        if columns is not None and columns.model.american:
            return 0
        run = ticks[start:end]
        marks = np.array([tick.mark for tick in run])
        times = np.array([tick.ts_ns for tick in run], dtype=np.int64)
        count = _leading(np.array([tick.symbol == symbol for tick in run]))
        count = min(count, _leading(np.diff(times, prepend=last.ts_ns) > 0))
        expiry = None if columns is None else columns.next_expiry_ns
        if expiry is not None:
            count = min(count, int(np.searchsorted(times[:count], expiry, side="left")))
        count = min(count, self._guard.steady_count(symbol, marks[:count], times[:count]))
        # An implausible tick is refused by `handle`, never taken in a pass.
        highest = [max(t.bid or 0.0, t.ask or 0.0, t.last or 0.0) for t in run[:count]]
        count = min(count, _leading(np.array(highest) <= self._max_price))
        if count and self._is_live():
            count = self._inside_bands(symbol, columns, marks[:count], times[:count])
        return count

    def _inside_bands(
        self, symbol: str, columns: OptionColumns | None, marks: np.ndarray, times: np.ndarray
    ) -> int:
        """How many leading ticks keep every book's net delta inside its band."""
        books = [
            book for book in self._books_holding(symbol) if not self._desk.setup(book).policy.timed
        ]
        if not books:
            return len(marks)
        deltas = None
        if columns is not None and len(columns):
            market = self._revaluation.market_inputs(symbol, marks[0], int(times[0]))
            deltas = book_deltas_along(
                columns, marks, times, market.vol, market.rate, market.dividend_yield
            )
        count = len(marks)
        for book in books:
            policy = self._desk.setup(book).policy
            band = policy.band_at_marks(marks)
            if band is None or policy.leland_cost or self._option_hedger.any_working(book, symbol):
                return 0
            holding = self._holdings[(book, symbol)]
            option_delta: np.ndarray | float = holding.option_delta
            if columns is not None and deltas is not None and book in columns.books:
                option_delta = deltas[:, columns.book_index(book)]
            # As `Holding.delta_with_working` adds them: (options + shares) + working.
            net = (option_delta + holding.shares) + holding.working_shares
            count = min(count, _leading(~policy.outside(np.broadcast_to(net, marks.shape), band)))
        return count

    def _apply(self, ticks: Sequence[PriceTick], start: int, end: int) -> None:
        """The state the steady ticks ``ticks[start:end]`` leave behind."""
        # The guard keeps the newest mark and the one before it, and when the mark last
        # changed (found here: it is told only the last two ticks); the market the newest,
        # and the last before each expiry instant they pass.
        guard = self._guard
        before = guard.mark(ticks[start].symbol)
        guard.took_steady(
            ticks[start].symbol, [(t.ts_ns, t.mark) for t in ticks[max(start, end - 2) : end]]
        )
        for index in range(end - 1, start - 1, -1):
            previous = ticks[index - 1].mark if index > start else before
            if ticks[index].mark != previous:
                guard.moved(ticks[index].symbol, ticks[index].ts_ns)
                break
        newest = ticks[end - 1]
        self._market.accept_run(ticks, start, end)
        if self._is_live():
            for book in self._books_holding(newest.symbol):
                if not self._desk.setup(book).policy.timed:
                    self._desk.back_inside_band(book, newest.symbol)


def _leading(flags: np.ndarray) -> int:
    """The number of leading True values."""
    return int(flags.argmin()) if not flags.all() else len(flags)
