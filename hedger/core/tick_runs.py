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
  are newer than it and in order; no option expires by the tick, nor is a P&L valuation
  due by it (`before_ns`: the engine handles that tick on its own);
* the price guard is not frozen and the tick does not jump;
* while live, every book holding the underlying either has a timed policy (ticks never
  trade it) or has a band that depends on the mark alone (shares or currency width), no
  Leland adjustment and no working option orders, and its net delta at the tick is inside
  that band, or outside it within the policy's minimum interval of the book's last order.

Such a refused tick does what it does one by one: its refusal (`HedgeDesk.too_soon`, the
same action and episode) is returned, in the order of the ticks and of the books. A book
outside its band stays outside while its orders wait out the interval, tick after tick: the
pass takes those ticks too, rather than one at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from hedger.core.actions import Action, HedgeDenied
from hedger.core.band_check import BookBand, outside_bands
from hedger.core.book import Holding
from hedger.core.decisions import HedgeDesk, Situation
from hedger.core.events import PriceTick
from hedger.core.market import MarketState
from hedger.core.option_orders import OptionHedger
from hedger.core.price_guard import PriceGuard
from hedger.core.revaluation import Revaluation
from hedger.core.risk import OptionColumns

# Ticks examined in the first look ahead of a pass: twice as many as the last pass took
# (a busy feed's runs are long), within these bounds, or the most when the last took all
# it was given (its run ended at a batch's end or a timer, not on a trade); each look that
# finds all of them steady doubles it, so a long steady run costs few compiled calls, and a
# run that ends at once (every tick trades) wastes little. A look costs some 80 us besides
# its ticks: doubling up from a short last pass, a catch-up's passes of about 1,000 ticks
# took three or four looks each.
FIRST_LOOK, LONGEST_FIRST_LOOK = 16, 1024

# Per book holding the underlying (and not timed), which ticks of a run it is refused on.
Refused = list[tuple[str, np.ndarray]]


def tick_trigger(symbol: str, ts_ns: int) -> str:
    """What a decision on a tick names as its trigger (and its order id derives from)."""
    return f"tick:{symbol}:{ts_ns}"


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
        self._first_look = FIRST_LOOK

    def pass_steady(
        self, ticks: Sequence[PriceTick], start: int, stop: int, before_ns: int
    ) -> tuple[int, list[Action]]:
        """Take the steady ticks from ``ticks[start]`` on, before ``stop`` and before the
        first at or past ``before_ns``; return the index of the first tick not taken
        (``stop`` when all were) and the refusals of those taken, in order."""
        index, look = start, self._first_look
        refusals: list[Action] = []
        while index < stop:
            end = min(stop, index + look)
            steady, refused = self._steady_count(ticks, index, end, before_ns)
            if steady:
                refusals += self._apply(ticks, index, index + steady, refused)
            index += steady
            if index < end:
                break
            look *= 2
        if index > start:
            # The Greeks as of the last tick taken: the next tick may not revalue (a stale
            # one, another underlying's, or none).
            newest = ticks[index - 1]
            self._revaluation.revalue(newest.symbol, newest.mark, newest.ts_ns)
        taken = LONGEST_FIRST_LOOK if index == stop else 2 * (index - start)
        self._first_look = min(max(taken, FIRST_LOOK), LONGEST_FIRST_LOOK)
        return index, refusals

    def _steady_count(
        self, ticks: Sequence[PriceTick], start: int, end: int, before_ns: int
    ) -> tuple[int, Refused]:
        symbol = ticks[start].symbol
        last = self._market.ticks.get(symbol)
        columns = self._revaluation.columns_of(symbol)
        if last is None or symbol in self._market.surfaces:
            return 0, []
        if columns is not None and columns.model.american:
            return 0, []
        run = ticks[start:end]
        marks = np.array([tick.mark for tick in run])
        times = np.array([tick.ts_ns for tick in run], dtype=np.int64)
        # Ticks of the underlying, none implausible (a price above the limit: `handle`
        # refuses it, never a pass). One scan that stops at the first other: a third of the
        # cost of the highest price of every tick in an array, half that of two scans.
        limit = self._max_price
        count = next(
            (
                i
                for i, t in enumerate(run)
                if t.symbol != symbol
                or (t.bid or 0.0) > limit
                or (t.ask or 0.0) > limit
                or (t.last or 0.0) > limit
            ),
            len(run),
        )
        # Newer than the last tick and in order (compared by slices: `np.diff` with its
        # `prepend` cost more than the comparison).
        count = min(count, 0 if times[0] <= last.ts_ns else 1 + _leading(times[1:] > times[:-1]))
        # In time order from here: a search finds the first tick at or past the cut, an
        # expiry or `before_ns`.
        expiry = None if columns is None else columns.next_expiry_ns
        cut_ns = before_ns if expiry is None else min(expiry, before_ns)
        count = min(count, int(np.searchsorted(times[:count], cut_ns, side="left")))
        count = min(count, self._guard.steady_count(symbol, marks[:count], times[:count]))
        if count and self._is_live():
            return self._inside_bands(symbol, columns, marks[:count], times[:count])
        return count, []

    def _inside_bands(
        self, symbol: str, columns: OptionColumns | None, marks: np.ndarray, times: np.ndarray
    ) -> tuple[int, Refused]:
        """How many leading ticks keep every book's net delta inside its band, or outside
        it within its policy's minimum interval of its last order; and per book, which of
        those ticks it is refused on."""
        books = []  # (book, its policy, its holding), for the books a tick may trade
        for book in self._books_holding(symbol):
            policy = self._desk.setup(book).policy
            if not policy.timed:
                books.append((book, policy, self._holdings[(book, symbol)]))
        tests = []
        for book, policy, holding in books:
            band = policy.band_at_marks(marks)
            if band is None or policy.leland_cost or self._option_hedger.any_working(book, symbol):
                return 0, []
            column = None
            if columns is not None and book in columns.books:
                column = columns.book_index(book)
            low, high = policy.target_range
            held = (holding.option_delta, holding.shares, holding.working_shares)
            tests.append(BookBand(column, *held, low, high, band))
        market = self._revaluation.market_inputs(symbol, marks[0], int(times[0]))
        outsides = outside_bands(columns, market, marks, times, tests)
        count = len(marks)
        for (_, policy, holding), outside in zip(books, outsides, strict=True):
            refusable = np.zeros_like(outside)  # no order yet: no interval to wait out
            if holding.last_order_ts_ns is not None:
                refusable = outside & (times - holding.last_order_ts_ns < policy.min_interval_ns)
            count = min(count, _leading(~outside | refusable))
        refused = zip(books, outsides, strict=True)
        return count, [(book, outside[:count]) for (book, _, _), outside in refused]

    def _apply(
        self, ticks: Sequence[PriceTick], start: int, end: int, refused: Refused
    ) -> list[Action]:
        """The state the steady ticks ``ticks[start:end]`` leave behind, and their refusals."""
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
        self._market.accept_run(ticks, start, end)
        return self._refuse(ticks, start, refused)

    def _refuse(self, ticks: Sequence[PriceTick], start: int, refused: Refused) -> list[Action]:
        """Each book's refusals on the ticks from ``ticks[start]``, tick by tick in the order
        decisions are made; a book back inside its band ends its episode of refusals."""
        steps = []  # (tick, book's place, book, refused there)
        for place, (book, outside) in enumerate(refused):
            after_refusal = np.concatenate(([True], outside[:-1]))
            for tick in np.flatnonzero(outside | after_refusal).tolist():
                steps.append((tick, place, book, bool(outside[tick])))
        steps.sort()
        refusals: list[Action] = []
        for tick, _, book, is_refused in steps:
            if not is_refused:
                self._desk.back_inside_band(book, ticks[start].symbol)
                continue
            refusals.append(self._too_soon(book, ticks[start + tick]))
        return refusals

    def _too_soon(self, book: str, tick: PriceTick) -> HedgeDenied:
        holding = self._holdings[(book, tick.symbol)]
        trigger = tick_trigger(tick.symbol, tick.ts_ns)
        situation = Situation(book, tick.symbol, holding, tick.mark, tick.ts_ns, trigger, "band")
        refusal = self._desk.too_soon(situation, self._desk.setup(book).policy)
        assert refusal is not None, "the pass takes only ticks inside the minimum interval"
        return refusal


def _leading(flags: np.ndarray) -> int:
    """The number of leading True values."""
    return int(flags.argmin()) if not flags.all() else len(flags)
