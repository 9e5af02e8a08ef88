"""Which ticks of a run take a book's net delta outside its band: the answer the exact
deltas give, from exact deltas at a few ticks.

Computing every book's option delta at every tick of a run (`book_deltas_along`) costs a
normal CDF per option row per tick, more than the rest of the run's handling. Most ticks
move the delta far less than its distance to the band's edges, so: the deltas are computed
exactly at every `ANCHOR_EVERY`-th tick, with their slopes in log mark; between anchors,
Taylor's bound (`book_delta_bounds`: the curvature in log mark and the change in time at
their most) on how far the delta can be from the anchor's tangent settles a tick when the
whole interval it allows is inside the band, or outside it. Only the ticks it cannot
settle are computed exactly. Rounding cannot turn an answer: `beyond_band` is monotone in
the net delta, and the interval is wider than the rounding of the exact path (its slack).

The test per tick is a compiled loop per book (`_settle_by_bound`, `_beyond_where_exact`):
as array expressions it took some twenty numpy calls per book and run, each with a fixed
cost, and a catch-up's runs are a few hundred ticks (cut by batches and orders), so that
fixed cost was most of the band test's (benchmarks/service_catch_up.py).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hedger.core.delta_path import (
    BOUND_CURVATURE,
    BOUND_PER_YEAR,
    BOUND_SLACK,
    BOUND_SLOPE,
    book_delta_bounds,
    book_deltas_along,
    book_deltas_and_slopes_along,
)
from hedger.core.policy import BoolArray, FloatArray, beyond_band
from hedger.core.pricing.jit import jit
from hedger.core.risk import MarketInputs, OptionColumns
from hedger.core.row_kernels import NANOS_PER_DAY

# Anchors cost a delta and a slope per option row. Every 32nd tick rather than 16th took the
# engine from 0.91 to 0.84 µs a tick on the catch-up benchmark's book (100 rows, a 1 ms
# random walk; best of 10), every 64th from 0.58-0.60 to 0.55-0.56 (best of 20); with three
# and ten times the moves, where many or most ticks trade, no change.
ANCHOR_EVERY = 64
# Room for the rounding of (options + shares) + working, relative to their sizes.
_ROUNDING = 1e-9


class BookBand(NamedTuple):
    """One book's band test on an underlying: (options + shares) + working, against
    `beyond_band(net, low, high, band)`."""

    column: int | None  # the book's column of option deltas; None: no options there
    option_delta: float  # its option delta when it has no column
    shares: float
    working: float
    low: float
    high: float
    band: FloatArray | float


def outside_bands(
    columns: OptionColumns | None,
    market: MarketInputs,
    marks: FloatArray,
    times_ns: np.ndarray,
    books: list[BookBand],
) -> list[BoolArray]:
    """Per book, at which ticks (`marks`, `times_ns`) its net delta is beyond its band."""
    count = len(marks)
    carry = (market.vol, market.rate, market.dividend_yield)
    fixed = np.zeros((count, 0))  # no book has a column there: each its fixed option delta
    if columns is None or not len(columns) or all(book.column is None for book in books):
        return [_beyond(book._replace(column=None), fixed) for book in books]
    bounds = None
    if count > ANCHOR_EVERY:  # fewer ticks gain nothing from a bound
        bounds = book_delta_bounds(columns, marks, times_ns, *carry)
    if bounds is None:
        deltas = book_deltas_along(columns, marks, times_ns, *carry)
        return [_beyond(book, deltas) for book in books]
    anchors = np.arange(0, count, ANCHOR_EVERY)
    deltas = np.full((count, len(columns.books)), np.nan)
    deltas[anchors], slopes = book_deltas_and_slopes_along(
        columns, marks[anchors], times_ns[anchors], *carry
    )
    log_marks = np.log(marks)
    days_per_year = float(columns.model.days_per_year)
    # Per book with a column: at each tick, settled by the bound (inside or outside) or not.
    tests = [_band_test(book, count) for book in books]
    settled = [
        None
        if book.column is None
        else _settle_by_bound(
            deltas,
            slopes,
            book.column,
            log_marks,
            times_ns,
            days_per_year,
            bounds[book.column],
            *test,
        )
        for book, test in zip(books, tests, strict=True)
    ]
    # The ticks some book's bound cannot settle: computed for every book, as the anchors.
    exact = np.zeros(count, dtype=bool)
    for settling in settled:
        if settling is not None:
            exact |= settling == _UNSETTLED
    exact[anchors] = False
    if exact.any():
        deltas[exact] = book_deltas_along(columns, marks[exact], times_ns[exact], *carry)
    exact[anchors] = True
    return [
        _beyond(book, deltas)
        if book.column is None or settling is None
        else _beyond_where_exact(deltas, book.column, exact, settling, *test)
        for book, test, settling in zip(books, tests, settled, strict=True)
    ]


# `_settle_by_bound`'s answer per tick.
_UNSETTLED, _INSIDE, _OUTSIDE = 0, 1, 2
# A book's test, as the kernels take it.
_SHARES, _WORKING, _LOW, _HIGH = 0, 1, 2, 3


def _band_test(book: BookBand, count: int) -> tuple[FloatArray, FloatArray]:
    """A book's test for the kernels: (shares, working, low, high) by `_SHARES`...
    `_HIGH`, and its band at each tick."""
    band = np.asarray(book.band, dtype=np.float64)
    if band.ndim == 0:
        band = np.full(count, band)
    return np.array([book.shares, book.working, book.low, book.high], dtype=np.float64), band


@jit
def _settle_by_bound(
    deltas: FloatArray,
    anchor_slopes: FloatArray,
    column: int,
    log_marks: FloatArray,
    times_ns: np.ndarray,
    days_per_year: float,
    bound: FloatArray,
    test: FloatArray,
    band: FloatArray,
) -> np.ndarray:
    """Per tick, whether the whole interval Taylor's bound allows around the anchor's
    tangent (in log mark at the anchor's time, then in time) is inside the band
    (`_INSIDE`), beyond it on one side (`_OUTSIDE`), or neither (`_UNSETTLED`)."""
    count = len(log_marks)
    shares, working, low, high = test[_SHARES], test[_WORKING], test[_LOW], test[_HIGH]
    settled = np.empty(count, dtype=np.int8)
    year_ns = NANOS_PER_DAY * days_per_year
    for tick in range(count):
        anchor = tick // ANCHOR_EVERY
        first = anchor * ANCHOR_EVERY
        log_step = log_marks[tick] - log_marks[first]
        year_step = abs(times_ns[tick] - times_ns[first]) / year_ns
        # As `_net` adds them: (options + shares) + working.
        centre = (deltas[first, column] + shares) + working
        centre += anchor_slopes[anchor, column] * log_step
        reach = (
            0.5 * bound[BOUND_CURVATURE] * log_step * log_step
            + bound[BOUND_PER_YEAR] * year_step
            + _ROUNDING * bound[BOUND_SLOPE] * abs(log_step)
            + 2.0 * bound[BOUND_SLACK]
        )
        reach += _ROUNDING * (abs(centre) + abs(shares) + abs(working) + 1.0)
        lower, upper = centre - reach, centre + reach
        width = band[tick]
        # The whole interval above the band, or the whole of it below.
        if lower - high > width or low - upper > width:
            settled[tick] = _OUTSIDE
        elif low - lower > width or upper - high > width:
            settled[tick] = _UNSETTLED  # an end beyond the band: `beyond_band` of it
        else:
            settled[tick] = _INSIDE
    return settled


@jit
def _beyond_where_exact(
    deltas: FloatArray,
    column: int,
    exact: np.ndarray,
    settled: np.ndarray,
    test: FloatArray,
    band: FloatArray,
) -> np.ndarray:
    """`beyond_band` of the book's net delta at each tick: from its computed option delta
    where `exact`, from `_settle_by_bound`'s answer elsewhere."""
    count = len(exact)
    shares, working, low, high = test[_SHARES], test[_WORKING], test[_LOW], test[_HIGH]
    beyond = np.empty(count, dtype=np.bool_)
    for tick in range(count):
        if exact[tick]:
            net = (deltas[tick, column] + shares) + working
            beyond[tick] = net - high > band[tick] or low - net > band[tick]
        else:
            beyond[tick] = settled[tick] == _OUTSIDE
    return beyond


def _net(book: BookBand, option_delta: FloatArray | float) -> FloatArray:
    # As `Holding.delta_with_working` adds them: (options + shares) + working.
    return np.asarray((option_delta + book.shares) + book.working)


def _beyond(book: BookBand, deltas: FloatArray) -> BoolArray:
    """`beyond_band` of the book's net delta at each tick (a row of `deltas`), its options'
    delta from its column there (its fixed option delta when it has none)."""
    count = deltas.shape[0]
    option_delta: FloatArray | float = book.option_delta
    if book.column is not None:
        option_delta = deltas[:, book.column]
    net = np.broadcast_to(_net(book, option_delta), (count,))
    beyond: BoolArray = beyond_band(net, book.low, book.high, book.band)
    return beyond


def load_kernels() -> None:
    """Load the compiled kernels of the band test now, as `hedger.core.risk.load_kernels`
    does the revaluation's: a catch-up's first run of ticks would wait for them."""
    columns = OptionColumns()
    columns.add("warm-up", "call", 100.0, 30 * NANOS_PER_DAY, True, 1.0)
    count = ANCHOR_EVERY + 1
    marks, times_ns = np.full(count, 100.0), np.arange(count, dtype=np.int64)
    test = BookBand(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    outside_bands(columns, MarketInputs(100.0, 0.2, 0.0, 0.0, 0), marks, times_ns, [test])
