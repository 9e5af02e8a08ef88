"""Each book's option delta at every tick of a run on one underlying, in one compiled call.

The engine's fast path for runs of ticks (`hedger.core.tick_runs`) only needs to know, tick
by tick, whether some book's net delta leaves its band. This computes the option delta per
book at each tick, to the bit what `hedger.core.row_kernels.revalue_european` puts in its delta
column at that tick (the same per-row delta, `european_delta`, summed in the same row
order), for the cost of N(d1) alone. European options at a flat vol only.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.european import MIN_STANDARD_DEVIATION, d1_term, european_delta
from hedger.core.pricing.jit import jit, norm_pdf
from hedger.core.risk import OptionColumns
from hedger.core.row_kernels import (
    BOOK_OF_ROW,
    EXPIRY_OF_ROW,
    LOG_STRIKE,
    NANOS_PER_DAY,
    SIGN,
    STRIKE,
    UNITS,
    FloatArray,
    IntArray,
    horizon_of,
    horizons_at,
)


def book_deltas_along(
    columns: OptionColumns,
    marks: FloatArray,
    times_ns: IntArray,
    vol: float,
    rate: float,
    dividend: float,
) -> FloatArray:
    """``deltas[tick, book]``: each book's option delta (shares) at each (mark, time)."""
    return _along(columns, marks, times_ns, vol, rate, dividend, with_slopes=False)[0]


def book_deltas_and_slopes_along(
    columns: OptionColumns,
    marks: FloatArray,
    times_ns: IntArray,
    vol: float,
    rate: float,
    dividend: float,
) -> tuple[FloatArray, FloatArray]:
    """`book_deltas_along`, and ``slopes[tick, book]``: each book's ∂Δ/∂ln S (shares per
    unit of log mark) there, as the bound of `book_delta_bounds` needs it (not to the bit)."""
    return _along(columns, marks, times_ns, vol, rate, dividend, with_slopes=True)


def _along(
    columns: OptionColumns,
    marks: FloatArray,
    times_ns: IntArray,
    vol: float,
    rate: float,
    dividend: float,
    with_slopes: bool,
) -> tuple[FloatArray, FloatArray]:
    rows = columns.rows()
    deltas = np.zeros((marks.shape[0], len(columns.books)))
    slopes = np.zeros(deltas.shape if with_slopes else (0, 0))
    _deltas_along(
        marks,
        times_ns,
        vol,
        rate,
        dividend,
        rows.floats,
        rows.indices,
        rows.expiries_ns,
        columns.model.futures,
        columns.model.days_per_year,
        deltas,
        slopes,
    )
    return deltas, slopes


@jit
def _deltas_along(
    marks: FloatArray,
    times_ns: IntArray,
    vol: float,
    rate: float,
    dividend: float,
    floats: FloatArray,
    indices: npt.NDArray[np.intp],
    expiries_ns: IntArray,
    futures: bool,
    days_per_year: float,
    deltas: FloatArray,
    slopes: FloatArray,
) -> None:
    """Fills `deltas`, and `slopes` unless it is empty."""
    per_day = 1.0 / days_per_year
    for tick in range(marks.shape[0]):
        spot = marks[tick]
        horizons = horizons_at(times_ns[tick], expiries_ns, rate, dividend, days_per_year)
        log_spot = math.log(spot)
        for row in range(floats.shape[1]):
            horizon = horizon_of(horizons, indices[EXPIRY_OF_ROW, row])
            delta = european_delta(
                spot,
                floats[STRIKE, row],
                log_spot - floats[LOG_STRIKE, row],
                horizon,
                vol,
                rate,
                dividend,
                floats[SIGN, row],
                futures,
                per_day,
            )
            book = indices[BOOK_OF_ROW, row]
            deltas[tick, book] += delta * floats[UNITS, row]
            if slopes.shape[0]:
                log_moneyness = log_spot - floats[LOG_STRIKE, row]
                slope = _log_mark_slope(log_moneyness, horizon, vol, rate, dividend)
                slopes[tick, book] += slope * floats[UNITS, row]


@jit
def _log_mark_slope(
    log_moneyness: float,
    horizon: tuple[float, float, float, float],
    vol: float,
    rate: float,
    dividend: float,
) -> float:
    """e^{−qτ}φ(d1)/(σ√τ); 0 where `book_delta_bounds` finds no bound (a step, not a slope)."""
    time, sqrt_time, _, dividend_discount = horizon
    deviation = vol * sqrt_time
    if not (time > 0.0 and deviation >= MIN_STANDARD_DEVIATION):
        return 0.0
    d1 = d1_term(log_moneyness, time, rate, dividend, deviation, 1.0 / deviation)
    return dividend_discount * norm_pdf(d1) / deviation


# The largest values of φ(x) and of |x|·φ(x) (at x = 0 and x = ±1).
_PDF_PEAK = 0.3989422804014327
_PDF_TIMES_X_PEAK = 0.24197072451914337
# Far more than the rounding of `european_delta` and of the sums over rows (a few units in
# the last place, growing with |log moneyness| over the standard deviation).
_ROUNDING = 1e-9
# (Bounds of) ∂Δ/∂x in absolute value, ∂²Δ/∂x² and ∂Δ/∂τ; the slack for rounding.
BOUND_SLOPE, BOUND_CURVATURE, BOUND_PER_YEAR, BOUND_SLACK = range(4)


def book_delta_bounds(
    columns: OptionColumns,
    marks: FloatArray,
    times_ns: IntArray,
    vol: float,
    rate: float,
    dividend: float,
) -> FloatArray | None:
    """``bounds[book, kind]`` over the box of log marks x and times the run spans, summed
    over the book's rows (× |units|): the most |∂Δ/∂x|, |∂²Δ/∂x²| and |∂Δ/∂τ| (τ in years)
    can be there, and the slack that covers the rounding of its computed delta (and of its
    computed slope, `book_deltas_and_slopes_along`). None where some row has no such bound there:
    at or past its expiry, or a vanishing standard deviation.

    From Black–Scholes, Δ = ±e^{−qτ}N(±d1), d1 = (x − ln K + (r − q)τ)/(σ√τ) + σ√τ/2:
    ∂Δ/∂x = e^{−qτ}φ(d1)/(σ√τ), ∂²Δ/∂x² = −e^{−qτ}d1φ(d1)/(σ²τ), and
    |∂Δ/∂τ| ≤ e^{−qτ}(|q| + φ(d1)|d1|/(2τ) + φ(d1)|c|/√τ) with c = (r − q)/σ + σ/2; each
    at most its value with φ and |x|φ at their peaks and τ at its least."""
    rows = columns.rows()
    bounds = np.zeros((len(columns.books), 4))
    feasible = _delta_bounds(
        float(np.abs(np.log(marks)).max()),
        int(times_ns.min()),
        int(times_ns.max()),
        vol,
        rate,
        dividend,
        rows.floats,
        rows.indices,
        rows.expiries_ns,
        columns.model.days_per_year,
        bounds,
    )
    return bounds if feasible else None


@jit
def _delta_bounds(
    largest_log_mark: float,
    first_ns: int,
    last_ns: int,
    vol: float,
    rate: float,
    dividend: float,
    floats: FloatArray,
    indices: npt.NDArray[np.intp],
    expiries_ns: IntArray,
    days_per_year: float,
    bounds: FloatArray,
) -> bool:
    nanos_per_year = NANOS_PER_DAY * days_per_year
    drift = abs((rate - dividend) / vol + 0.5 * vol) if vol > 0.0 else math.inf
    for row in range(floats.shape[1]):
        units = abs(floats[UNITS, row])
        if units == 0.0:
            continue
        expiry_ns = expiries_ns[indices[EXPIRY_OF_ROW, row]]
        least = (expiry_ns - last_ns) / nanos_per_year
        most = (expiry_ns - first_ns) / nanos_per_year
        if not least > 0.0:
            return False
        root = math.sqrt(least)
        deviation = vol * root
        if not deviation >= 1e6 * MIN_STANDARD_DEVIATION:
            return False
        discount = max(math.exp(-dividend * least), math.exp(-dividend * most))
        book = indices[BOOK_OF_ROW, row]
        slope = discount * _PDF_PEAK / deviation
        bounds[book, BOUND_SLOPE] += units * slope
        bounds[book, BOUND_CURVATURE] += units * discount * _PDF_TIMES_X_PEAK / deviation**2
        bounds[book, BOUND_PER_YEAR] += (
            units
            * discount
            * (abs(dividend) + _PDF_TIMES_X_PEAK / (2.0 * least) + _PDF_PEAK * drift / root)
        )
        spread = largest_log_mark + abs(floats[LOG_STRIKE, row]) + 1.0
        bounds[book, BOUND_SLACK] += units * _ROUNDING * (1.0 + spread / deviation)
    return True
