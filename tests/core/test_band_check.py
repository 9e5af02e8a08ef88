"""`outside_bands` answers as the exact deltas at every tick do, and the bound it settles
ticks by holds.

The bound (`book_delta_bounds`) is checked against deltas computed at every tick: the delta
at a tick is never farther from the anchor's tangent than the bound allows. The answer is
checked against `beyond_band` of the net delta from `book_deltas_along` at every tick, on
bands drawn to pass right by the deltas the ticks reach (so ticks sit on both sides of an
edge, some a hair's breadth away).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.band_check import ANCHOR_EVERY, BookBand, outside_bands
from hedger.core.delta_path import (
    BOUND_CURVATURE,
    BOUND_PER_YEAR,
    BOUND_SLACK,
    BOUND_SLOPE,
    book_delta_bounds,
    book_deltas_along,
    book_deltas_and_slopes_along,
)
from hedger.core.policy import beyond_band
from hedger.core.risk import MarketInputs, OptionColumns
from hedger.core.row_kernels import NANOS_PER_DAY

SECOND = 1_000_000_000
START_NS = 1_800_000_000 * SECOND
YEAR_NS = 365 * NANOS_PER_DAY


@st.composite
def books_of_options(draw: st.DrawFn) -> OptionColumns:
    columns = OptionColumns()
    for row in range(draw(st.integers(1, 40))):
        days = draw(st.sampled_from([0.02, 0.5, 3.0, 30.0, 400.0]))
        columns.add(
            f"b{draw(st.integers(0, 2))}",
            f"K{row}",
            float(draw(st.integers(60, 140))),
            START_NS + int(days * NANOS_PER_DAY),
            draw(st.booleans()),
            float(draw(st.integers(-50, 50)) * 100),
        )
    return columns


@st.composite
def runs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A random walk of marks, ticks 1 ms to 10 s apart."""
    count = draw(st.integers(1, 80))
    step = draw(st.sampled_from([1e-5, 1e-3, 0.01]))
    moves = draw(st.lists(st.floats(-3.0, 3.0), min_size=count, max_size=count))
    marks = 100.0 * np.exp(np.cumsum(np.array(moves) * step))
    gap_ns = draw(st.sampled_from([1_000_000, SECOND, 10 * SECOND]))
    times = START_NS - 3600 * SECOND + np.arange(count, dtype=np.int64) * gap_ns
    return marks, times


markets = st.builds(
    MarketInputs,
    spot=st.just(100.0),
    vol=st.sampled_from([0.05, 0.2, 1.5]),
    rate=st.sampled_from([0.0, 0.03]),
    dividend_yield=st.sampled_from([0.0, 0.02, 0.03]),
    ts_ns=st.just(START_NS),
)


@settings(max_examples=200, deadline=None)
@given(columns=books_of_options(), run=runs(), market=markets)
def test_delta_stays_within_the_bound_from_each_anchor(columns, run, market):
    marks, times = run
    args = (market.vol, market.rate, market.dividend_yield)
    bounds = book_delta_bounds(columns, marks, times, *args)
    if bounds is None:
        return
    deltas, slopes = book_deltas_and_slopes_along(columns, marks, times, *args)
    assert deltas.tolist() == book_deltas_along(columns, marks, times, *args).tolist()
    log_marks = np.log(marks)
    for anchor in range(len(marks)):
        log_steps = log_marks - log_marks[anchor]
        year_steps = np.abs(times - times[anchor]) / YEAR_NS
        tangent = deltas[anchor] + np.outer(log_steps, slopes[anchor])
        reach = (
            0.5 * np.outer(log_steps**2, bounds[:, BOUND_CURVATURE])
            + np.outer(year_steps, bounds[:, BOUND_PER_YEAR])
            + 1e-9 * np.outer(np.abs(log_steps), bounds[:, BOUND_SLOPE])
            + 2.0 * bounds[:, BOUND_SLACK]
        )
        assert (np.abs(deltas - tangent) <= reach).all()


@settings(max_examples=300, deadline=None)
@given(
    columns=books_of_options(),
    run=runs(),
    market=markets,
    held=st.tuples(st.integers(-5000, 5000), st.integers(-500, 500)),
    target=st.sampled_from([(0.0, 0.0), (-100.0, 250.0)]),
    edge_tick=st.integers(0, 79),
    nudge=st.sampled_from([0.0, 1e-9, -1e-9, 0.5, -3.0]),
    currency=st.booleans(),
)
def test_outside_bands_equals_the_exact_deltas_at_every_tick(
    columns, run, market, held, target, edge_tick, nudge, currency
):
    marks, times = run
    shares, working = map(float, held)
    args = (market.vol, market.rate, market.dividend_yield)
    exact = book_deltas_along(columns, marks, times, *args)
    low, high = target
    tests, expected = [], []
    for column in range(len(columns.books)):
        net = (exact[:, column] + shares) + working
        # The band one book's net delta just reaches at one tick (nudged across the edge).
        at = net[min(edge_tick, len(net) - 1)]
        width = max(at - high, low - at, 0.0) + nudge
        band = width if not currency else width * 100.0 / marks
        tests.append(BookBand(column, 0.0, shares, working, low, high, band))
        expected.append(beyond_band(net, low, high, np.broadcast_to(band, net.shape)))
    answers = outside_bands(columns, market, marks, times, tests)
    for answer, wanted in zip(answers, expected, strict=True):
        assert answer.tolist() == wanted.tolist()


def test_a_quiet_run_is_settled_without_exact_deltas_between_anchors(monkeypatch):
    """Ticks far inside the band: only the anchors are computed exactly."""
    import hedger.core.band_check as band_check

    columns = OptionColumns()
    for row, strike in enumerate(range(80, 121, 2)):
        columns.add("b1", f"K{row}", float(strike), START_NS + 90 * NANOS_PER_DAY, True, 500.0)
    count = 10 * ANCHOR_EVERY
    marks = 100.0 + 0.01 * np.sin(np.arange(count))
    times = START_NS - 3600 * SECOND + np.arange(count, dtype=np.int64) * 1_000_000
    computed: list[tuple[str, int]] = []
    for name in ("book_deltas_along", "book_deltas_and_slopes_along"):
        kernel = getattr(band_check, name)

        def counting(*args, _kernel=kernel, _name=name):
            computed.append((_name, len(args[1])))
            return _kernel(*args)

        monkeypatch.setattr(band_check, name, counting)
    market = MarketInputs(100.0, 0.2, 0.03, 0.0, START_NS)
    test = BookBand(0, 0.0, -5000.0, 0.0, 0.0, 0.0, 1e6)
    (answer,) = outside_bands(columns, market, marks, times, [test])
    assert not answer.any()
    assert computed == [("book_deltas_and_slopes_along", count // ANCHOR_EVERY)]
