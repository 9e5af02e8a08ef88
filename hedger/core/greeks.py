"""Prices and Greeks of European calls and puts, validated and vectorised.

`black_scholes` is Black-Scholes-Merton with a continuous dividend yield (cost of carry
b = rate − dividend yield); `black_76` prices options on futures (the futures price in
place of spot, no carry). Every input broadcasts against the others (numpy rules) and
every output is a float64 array of the broadcast shape (0-d for all-scalar input). The
maths is the compiled kernel `hedger.core.pricing.european`; this module validates.

Units, per ONE option on ONE unit of underlying (no contract multiplier):

| field   | meaning          | unit                                                    |
|---------|------------------|---------------------------------------------------------|
| price   | option value V   | currency                                                |
| delta   | ∂V/∂S            | underlying units per option                             |
| gamma   | ∂²V/∂S²          | underlying units per option per 1.00 move               |
| vega    | ∂V/∂σ × 0.01     | currency per vol point (σ 0.20 → 0.21)                  |
| theta   | −∂V/∂T / D       | currency per calendar day (time passing)                |
| rho     | ∂V/∂r × 0.01     | currency per percentage point of rate (r 0.04 → 0.05)   |
| vanna   | ∂²V/∂S∂σ × 0.01  | delta per vol point                                     |
| volga   | ∂²V/∂σ² × 1e-4   | vega (per vol point) per vol point                      |
| charm   | −∂²V/∂S∂T / D    | delta per calendar day (time passing)                   |

D is ``days_per_year`` (365 for ACT/365), the day count's year: ``time_to_expiry_years``
is calendar days / D. ``vol`` is annualised; ``rate`` and ``dividend_yield`` are
continuously compounded annual decimals. For Black-76, rho is taken with the futures
price held fixed (rho = −T × V × 0.01).

Edge conventions (no NaN or inf for finite inputs and finite positive spot and strike):

* Expired, ``time_to_expiry_years <= 0``: price is intrinsic ``max(±(S − K), 0)``; delta
  is +1 for a call with S > K, −1 for a put with S < K, else 0 — at the money exactly
  both deltas are 0, matching the OCC rule that only in-the-money options are exercised,
  so delta is the share position the option turns into. Every other Greek is 0.
* Deterministic, T > 0 but ``vol <= 0`` or σ√T < 1e-12: the option is its discounted
  forward payoff ``max(±(S e^{−qT} − K e^{−rT}), 0)``; delta is ±e^{−qT} when strictly in
  the money forward, else 0; theta, rho and charm are the exact derivatives of that
  price and delta; gamma, vega, vanna and volga are 0.

Non-finite or non-positive spot or strike, and non-finite time, vol, rate or dividend
yield, raise ValueError: callers validate input before it reaches the maths.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.european import OUTPUTS, european_arrays

FloatArray = npt.NDArray[np.float64]

DAYS_PER_YEAR = 365.0


# eq=False: numpy arrays have no single truth value, so generated __eq__/__hash__ would
# raise; identity semantics are the honest ones for array bundles.
@dataclass(frozen=True, slots=True, eq=False)
class Greeks:
    """Price and Greeks per one option on one unit of underlying; units in module doc."""

    price: FloatArray
    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray
    rho: FloatArray
    vanna: FloatArray
    volga: FloatArray
    charm: FloatArray


def black_scholes(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    time_to_expiry_years: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike,
    dividend_yield: npt.ArrayLike,
    is_call: npt.ArrayLike,
    days_per_year: float = DAYS_PER_YEAR,
) -> Greeks:
    """Price and Greeks of European options under Black-Scholes-Merton.

    All arguments broadcast together; ``is_call`` is a bool scalar or array. Units and
    the expired / zero-vol conventions are in the module docstring.
    """
    return _priced(
        (spot, strike, time_to_expiry_years, vol, rate, dividend_yield),
        is_call,
        futures=False,
        days_per_year=days_per_year,
    )


def black_76(
    futures_price: npt.ArrayLike,
    strike: npt.ArrayLike,
    time_to_expiry_years: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike,
    is_call: npt.ArrayLike,
    days_per_year: float = DAYS_PER_YEAR,
) -> Greeks:
    """Black-76: European options on a futures price (delta is per unit of the future)."""
    return _priced(
        (futures_price, strike, time_to_expiry_years, vol, rate, rate),
        is_call,
        futures=True,
        days_per_year=days_per_year,
    )


_NAMES = ("spot", "strike", "time_to_expiry_years", "vol", "rate", "dividend_yield")
_POSITIVE = frozenset({"spot", "strike"})


def _priced(
    values: tuple[npt.ArrayLike, ...],
    is_call: npt.ArrayLike,
    futures: bool,
    days_per_year: float,
) -> Greeks:
    flags = np.asarray(is_call)
    if flags.dtype != np.bool_:
        raise ValueError(f"is_call must be bool, got dtype {flags.dtype}")
    if not (np.isfinite(days_per_year) and days_per_year > 0):
        raise ValueError(f"days_per_year must be positive, got {days_per_year}")
    arrays = [_validated(name, value) for name, value in zip(_NAMES, values, strict=True)]
    sign = np.where(flags, 1.0, -1.0)
    shape = np.broadcast_shapes(*(array.shape for array in (*arrays, sign)))
    out = np.empty((OUTPUTS, int(np.prod(shape, dtype=np.int64))))
    spot, strike, time, vol, rate, dividend, signs = (_flat(a, shape) for a in (*arrays, sign))
    european_arrays(spot, strike, time, vol, rate, dividend, signs, futures, days_per_year, out)
    return Greeks(*(np.reshape(field, shape) for field in out))


def _validated(name: str, values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    if name in _POSITIVE and not np.all(array > 0.0):
        raise ValueError(f"{name} must be positive")
    return array


def _flat(array: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """1-D view for the kernel: length 1 for a single value (the kernel broadcasts it)."""
    if array.size == 1:
        return array.reshape(1)
    if array.shape == shape:
        return np.ascontiguousarray(array).reshape(-1)
    return np.broadcast_to(array, shape).reshape(-1)
