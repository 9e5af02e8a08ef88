"""The compiled loops over an underlying's option rows: every row priced at one market,
its Greeks × units added into its book's totals.

The rows are packed by `hedger.core.risk.OptionColumns` into two 2-D arrays (the layout
below) rather than one array per field: a compiled call costs a few hundred nanoseconds
per array argument it receives, as much as pricing a few rows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.american import american_row
from hedger.core.pricing.european import (
    CHARM,
    DELTA,
    GAMMA,
    PRICE,
    RHO,
    THETA,
    VANNA,
    VEGA,
    VOLGA,
    european_at,
    time_constants,
)
from hedger.core.pricing.jit import jit

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

NANOS_PER_DAY = 86_400 * 1_000_000_000
# Rows of the packed arrays: `floats[field, row]` and `indices[field, row]`.
STRIKE, LOG_STRIKE, SIGN, UNITS = range(4)
EXPIRY_OF_ROW, BOOK_OF_ROW = range(2)


@jit
def revalue_european(
    spot: float,
    rate: float,
    dividend: float,
    now_ns: int,
    flat_vol: float,
    vols: FloatArray,
    floats: FloatArray,
    indices: npt.NDArray[np.intp],
    expiries_ns: IntArray,
    futures: bool,
    days_per_year: float,
    out: FloatArray,
) -> None:
    """Add each row's value and Greeks × units into ``out[book of the row, field]``
    (`Rows.floats`, `Rows.indices`).

    ``vols`` has one entry per row, or none: then every row is at ``flat_vol``. Time to
    expiry is calendar time from ``now_ns`` to the row's expiry instant over
    ``days_per_year`` days; the time constants are computed once per distinct expiry, ln S
    once per call.
    """
    horizons = horizons_at(now_ns, expiries_ns, rate, dividend, days_per_year)
    log_spot = math.log(spot)
    per_day = 1.0 / days_per_year
    per_row = vols.shape[0] > 0
    for row in range(floats.shape[1]):
        greeks = european_at(
            spot,
            floats[STRIKE, row],
            log_spot - floats[LOG_STRIKE, row],
            horizon_of(horizons, indices[EXPIRY_OF_ROW, row]),
            vols[row] if per_row else flat_vol,
            rate,
            dividend,
            floats[SIGN, row],
            futures,
            per_day,
        )
        _add(out, indices[BOOK_OF_ROW, row], greeks, floats[UNITS, row])


@jit
def horizons_at(
    now_ns: int, expiries_ns: IntArray, rate: float, dividend: float, days_per_year: float
) -> FloatArray:
    """`time_constants` of each expiry at `now_ns` (a row each): calendar time over
    ``days_per_year``."""
    nanos_per_year = NANOS_PER_DAY * days_per_year
    horizons = np.empty((expiries_ns.shape[0], 4))
    for index in range(expiries_ns.shape[0]):
        constants = time_constants((expiries_ns[index] - now_ns) / nanos_per_year, rate, dividend)
        for column in range(4):
            horizons[index, column] = constants[column]
    return horizons


@jit
def horizon_of(horizons: FloatArray, expiry: int) -> tuple[float, float, float, float]:
    return (
        horizons[expiry, 0],
        horizons[expiry, 1],
        horizons[expiry, 2],
        horizons[expiry, 3],
    )


@jit
def revalue_american(
    spot: float,
    rate: float,
    dividend: float,
    now_ns: int,
    flat_vol: float,
    vols: FloatArray,
    floats: FloatArray,
    indices: npt.NDArray[np.intp],
    expiries_ns: IntArray,
    futures: bool,
    days_per_year: float,
    out: FloatArray,
) -> None:
    """`revalue_european` for American options, one row at a time."""
    nanos_per_year = NANOS_PER_DAY * days_per_year
    per_row = vols.shape[0] > 0
    for row in range(floats.shape[1]):
        time = (expiries_ns[indices[EXPIRY_OF_ROW, row]] - now_ns) / nanos_per_year
        greeks = american_row(
            spot,
            floats[STRIKE, row],
            time,
            vols[row] if per_row else flat_vol,
            rate,
            dividend,
            floats[SIGN, row],
            futures,
            days_per_year,
        )
        _add(out, indices[BOOK_OF_ROW, row], greeks, floats[UNITS, row])


@jit
def _add(
    out: FloatArray,
    book: int,
    greeks: tuple[float, float, float, float, float, float, float, float, float],
    units: float,
) -> None:
    out[book, PRICE] += greeks[PRICE] * units
    out[book, DELTA] += greeks[DELTA] * units
    out[book, GAMMA] += greeks[GAMMA] * units
    out[book, VEGA] += greeks[VEGA] * units
    out[book, THETA] += greeks[THETA] * units
    out[book, RHO] += greeks[RHO] * units
    out[book, VANNA] += greeks[VANNA] * units
    out[book, VOLGA] += greeks[VOLGA] * units
    out[book, CHARM] += greeks[CHARM] * units
