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
    owner = np.arange(count) // ANCHOR_EVERY  # each tick's anchor, by its place in `anchors`
    log_marks = np.log(marks)
    log_steps = log_marks - log_marks[anchors][owner]
    year_steps = np.abs(times_ns - times_ns[anchors][owner]) / (
        NANOS_PER_DAY * columns.model.days_per_year
    )
    settled: list[tuple[BoolArray, BoolArray] | None] = []  # per book: (settled, beyond)
    unsettled = np.zeros(count, dtype=bool)
    for book in books:
        if book.column is None:
            settled.append(None)
            continue
        bound = bounds[book.column]
        # Taylor in log mark from the anchor, at the anchor's time; then in time.
        centre = _net(book, deltas[anchors[owner], book.column])
        centre += slopes[owner, book.column] * log_steps
        reach = (
            0.5 * bound[BOUND_CURVATURE] * log_steps**2
            + bound[BOUND_PER_YEAR] * year_steps
            + _ROUNDING * bound[BOUND_SLOPE] * np.abs(log_steps)
            + 2.0 * bound[BOUND_SLACK]
        )
        reach += _ROUNDING * (np.abs(centre) + abs(book.shares) + abs(book.working) + 1.0)
        lower, upper = centre - reach, centre + reach
        band = np.broadcast_to(book.band, (count,))
        low, high = book.low, book.high
        inside = ~beyond_band(lower, low, high, band) & ~beyond_band(upper, low, high, band)
        # The whole interval above the band, or the whole of it below.
        outside = (lower - high > band) | (low - upper > band)
        settled.append((inside | outside, outside))
        unsettled |= ~(inside | outside)
    unsettled[anchors] = False
    if unsettled.any():
        deltas[unsettled] = book_deltas_along(
            columns, marks[unsettled], times_ns[unsettled], *carry
        )
    results = []
    for book, settling in zip(books, settled, strict=True):
        beyond = _beyond(book, deltas)  # NaN where not computed: False there, overwritten
        if settling is not None:
            by_bound = settling[0] & ~unsettled
            by_bound[anchors] = False
            beyond[by_bound] = settling[1][by_bound]
        results.append(beyond)
    return results


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
