"""An underlying's implied-vol surface: points by expiry and strike, interpolated per option.

Interpolation, for an option with expiry instant E and strike K at event time t:

* smile: on each expiry slice, vol is linear in strike between the slice's points and
  flat beyond its outermost ones (a slice given without a strike is flat);
* term: total variance w = σ²τ (τ in years from t to the slice's expiry) is linear in τ
  between the two live slices around E; before the first slice the vol is that slice's
  (variance grows with τ), after the last it is the last slice's.

Slices whose expiry instant is at or before t are ignored; with no live slice the surface
has nothing to say and the flat vol applies.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hedger.core.row_kernels import NANOS_PER_DAY

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class VolSurface:
    """The latest vol per (expiry instant, strike) of one underlying."""

    def __init__(self) -> None:
        # expiry instant -> strike -> vol; the strike None is a flat slice.
        self._slices: dict[int, dict[float | None, float]] = {}

    def set_point(self, expiry_ns: int, strike: float | None, vol: float) -> None:
        """Record a point; a later one for the same expiry and strike replaces it."""
        smile = self._slices.setdefault(expiry_ns, {})
        if strike is None or None in smile:
            smile.clear()  # a flat slice replaces the smile, and a smile point a flat slice
        smile[strike] = vol

    def live(self, ts_ns: int) -> bool:
        """True when some slice expires after `ts_ns`."""
        return any(expiry > ts_ns for expiry in self._slices)

    def vols(
        self, ts_ns: int, expiry_ns: IntArray, strike: FloatArray, days_per_year: float
    ) -> FloatArray | None:
        """Vol for each option (expiry instant, strike) at `ts_ns`; None without live slices."""
        expiries = sorted(expiry for expiry in self._slices if expiry > ts_ns)
        if not expiries:
            return None
        year_ns = NANOS_PER_DAY * days_per_year
        slice_times = (np.asarray(expiries, dtype=np.int64) - ts_ns) / year_ns
        smiles = np.stack([self._smile(expiry, strike) for expiry in expiries])
        variances = smiles**2 * slice_times[:, None]
        option_times = (expiry_ns - ts_ns) / year_ns
        return _term_interpolated(slice_times, smiles, variances, option_times)

    def _smile(self, expiry_ns: int, strike: FloatArray) -> FloatArray:
        points = self._slices[expiry_ns]
        if None in points:
            return np.full(strike.shape, points[None])
        strikes = sorted(key for key in points if key is not None)
        return np.interp(strike, strikes, [points[key] for key in strikes])


def _term_interpolated(
    slice_times: FloatArray, smiles: FloatArray, variances: FloatArray, option_times: FloatArray
) -> FloatArray:
    columns = np.arange(option_times.shape[0])
    after = np.searchsorted(slice_times, option_times)
    last = slice_times.shape[0] - 1
    upper = np.minimum(after, last)
    lower = np.maximum(after - 1, 0)
    t0, t1 = slice_times[lower], slice_times[upper]
    w0, w1 = variances[lower, columns], variances[upper, columns]
    between = (after > 0) & (after <= last)
    weight = np.where(between, (option_times - t0) / np.where(between, t1 - t0, 1.0), 0.0)
    variance = w0 + weight * (w1 - w0)
    positive_times = np.where(option_times > 0, option_times, 1.0)
    interpolated = np.sqrt(np.maximum(variance, 0.0) / positive_times)
    # Before the first slice its vol; after the last slice the last one's.
    first_vol = smiles[0, columns]
    last_vol = smiles[last, columns]
    result = np.where(after == 0, first_vol, np.where(after > last, last_vol, interpolated))
    vols: FloatArray = np.where(option_times > 0, result, first_vol)
    return vols
