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

from hedger.core.pricing.european import european_delta
from hedger.core.pricing.jit import jit
from hedger.core.risk import OptionColumns
from hedger.core.row_kernels import (
    BOOK_OF_ROW,
    EXPIRY_OF_ROW,
    LOG_STRIKE,
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
    rows = columns.rows()
    deltas = np.zeros((marks.shape[0], len(columns.books)))
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
    )
    return deltas


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
) -> None:
    per_day = 1.0 / days_per_year
    for tick in range(marks.shape[0]):
        spot = marks[tick]
        horizons = horizons_at(times_ns[tick], expiries_ns, rate, dividend, days_per_year)
        log_spot = math.log(spot)
        for row in range(floats.shape[1]):
            delta = european_delta(
                spot,
                floats[STRIKE, row],
                log_spot - floats[LOG_STRIKE, row],
                horizon_of(horizons, indices[EXPIRY_OF_ROW, row]),
                vol,
                rate,
                dividend,
                floats[SIGN, row],
                futures,
                per_day,
            )
            deltas[tick, indices[BOOK_OF_ROW, row]] += delta * floats[UNITS, row]
