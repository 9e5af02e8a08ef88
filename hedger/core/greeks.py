"""Black-Scholes-Merton prices and Greeks for European calls and puts, vectorised.

Every input broadcasts against the others (numpy rules) and every output is a float64
array of the broadcast shape (0-d for all-scalar input).

Units, per ONE option on ONE unit of underlying (no contract multiplier):

| field   | meaning                     | unit                                         |
|---------|-----------------------------|----------------------------------------------|
| price   | option value V              | currency                                     |
| delta   | dV/dS                       | underlying units per option                  |
| gamma   | d²V/dS²                     | underlying units per option per currency     |
| vega    | dV/dσ × 0.01                | currency per 1 vol point (σ 0.20 → 0.21)      |
| theta   | −∂V/∂T / 365                | currency per calendar day (time passing)      |

Inputs: ``time_to_expiry_years`` is ACT/365 calendar time; ``vol`` annualised decimal;
``rate`` and ``dividend_yield`` continuously compounded annual decimals.

Edge conventions (no NaN or inf for finite inputs and finite positive spot and strike):

* Expired, ``time_to_expiry_years <= 0``: price is intrinsic ``max(±(S − K), 0)``; delta
  is +1 for a call with S > K, −1 for a put with S < K, else 0 — at the money exactly
  both deltas are 0, matching the OCC rule that only in-the-money options are exercised,
  so delta is the share position the option turns into. Gamma, vega and theta are 0.
* Deterministic, T > 0 but ``vol <= 0`` or σ√T < 1e-12: the option is its discounted
  forward payoff ``max(±(S e^{−qT} − K e^{−rT}), 0)``; delta is ±e^{−qT} when strictly in
  the money forward, else 0; gamma and vega are 0; theta is the calendar-day derivative
  of that deterministic price, ``±(q S e^{−qT} − r K e^{−rT}) / 365`` in the money, else 0.

Non-finite or non-positive spot or strike, and non-finite time, vol, rate or dividend
yield, raise ValueError: callers validate input before it reaches the maths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

DAYS_PER_YEAR = 365.0
# Below this standard deviation d1 and d2 lose all meaning; the payoff is deterministic.
MIN_STANDARD_DEVIATION = 1e-12
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


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


@dataclass(frozen=True, slots=True)
class _Inputs:
    spot: FloatArray
    strike: FloatArray
    time: FloatArray
    vol: FloatArray
    rate: FloatArray
    dividend: FloatArray
    sign: FloatArray  # +1.0 call, −1.0 put


def black_scholes(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    time_to_expiry_years: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike,
    dividend_yield: npt.ArrayLike,
    is_call: npt.ArrayLike,
) -> Greeks:
    """Price and Greeks of European options under Black-Scholes-Merton.

    All arguments broadcast together; ``is_call`` is a bool scalar or array. Units and
    the expired / zero-vol conventions are in the module docstring.
    """
    inputs = _validated(spot, strike, time_to_expiry_years, vol, rate, dividend_yield, is_call)
    shape = np.broadcast_shapes(*(np.shape(field) for field in _fields(inputs)))
    sqrt_time = np.sqrt(np.maximum(inputs.time, 0.0))
    regular = inputs.vol * sqrt_time >= MIN_STANDARD_DEVIATION
    if np.all(regular):
        greeks = _regular(inputs, sqrt_time)
    else:
        greeks = _with_edges(inputs, sqrt_time, regular)
    return Greeks(*(_full(field, shape) for field in _greek_fields(greeks)))


def _validated(
    spot: npt.ArrayLike,
    strike: npt.ArrayLike,
    time: npt.ArrayLike,
    vol: npt.ArrayLike,
    rate: npt.ArrayLike,
    dividend: npt.ArrayLike,
    is_call: npt.ArrayLike,
) -> _Inputs:
    flags = np.asarray(is_call)
    if flags.dtype != np.bool_:
        raise ValueError(f"is_call must be bool, got dtype {flags.dtype}")
    return _Inputs(
        spot=_positive_finite("spot", spot),
        strike=_positive_finite("strike", strike),
        time=_finite("time_to_expiry_years", time),
        vol=_finite("vol", vol),
        rate=_finite("rate", rate),
        dividend=_finite("dividend_yield", dividend),
        sign=np.where(flags, 1.0, -1.0),
    )


def _finite(name: str, values: npt.ArrayLike) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    return array


def _positive_finite(name: str, values: npt.ArrayLike) -> FloatArray:
    array = _finite(name, values)
    if not np.all(array > 0.0):
        raise ValueError(f"{name} must be positive")
    return array


def _regular(inputs: _Inputs, sqrt_time: FloatArray) -> Greeks:
    s, k, t, sigma, sign = inputs.spot, inputs.strike, inputs.time, inputs.vol, inputs.sign
    r, q = inputs.rate, inputs.dividend
    standard_deviation = sigma * sqrt_time
    dividend_discount = np.exp(-q * t)
    d1 = (np.log(s / k) + (r - q) * t) / standard_deviation + 0.5 * standard_deviation
    d2 = d1 - standard_deviation
    hedge_ratio = dividend_discount * _norm_cdf(sign * d1)
    spot_leg = s * hedge_ratio
    strike_leg = k * np.exp(-r * t) * _norm_cdf(sign * d2)
    # S e^{-qT} φ(d1) is shared by gamma, vega and theta.
    spot_density = s * dividend_discount * (_INV_SQRT_2PI * np.exp(-0.5 * d1 * d1))
    decay = -spot_density * sigma / (2.0 * sqrt_time) + sign * (q * spot_leg - r * strike_leg)
    return Greeks(
        price=sign * (spot_leg - strike_leg),
        delta=sign * hedge_ratio,
        gamma=spot_density / (s * s * standard_deviation),
        vega=spot_density * sqrt_time * 0.01,
        theta=decay / DAYS_PER_YEAR,
    )


def _with_edges(inputs: _Inputs, sqrt_time: FloatArray, regular: BoolArray) -> Greeks:
    # Placeholders keep the regular formulas free of 0/0 on edge elements; those results
    # are overwritten below.
    safe = _Inputs(
        spot=inputs.spot,
        strike=inputs.strike,
        time=np.where(regular, inputs.time, 1.0),
        vol=np.where(regular, inputs.vol, 1.0),
        rate=inputs.rate,
        dividend=inputs.dividend,
        sign=inputs.sign,
    )
    smooth = _regular(safe, np.where(regular, sqrt_time, 1.0))
    expired = _expired(inputs)
    deterministic = _deterministic(inputs)
    is_expired = inputs.time <= 0.0
    return Greeks(
        *(
            np.where(regular, smooth_field, np.where(is_expired, expired_field, flat_field))
            for smooth_field, expired_field, flat_field in zip(
                _greek_fields(smooth),
                _greek_fields(expired),
                _greek_fields(deterministic),
                strict=True,
            )
        )
    )


def _expired(inputs: _Inputs) -> Greeks:
    moneyness = inputs.sign * (inputs.spot - inputs.strike)
    in_the_money = moneyness > 0.0
    zero = np.zeros_like(moneyness)
    return Greeks(
        price=np.maximum(moneyness, 0.0),
        delta=np.where(in_the_money, inputs.sign, 0.0),
        gamma=zero,
        vega=zero,
        theta=zero,
    )


def _deterministic(inputs: _Inputs) -> Greeks:
    t, sign = np.maximum(inputs.time, 0.0), inputs.sign
    discounted_spot = inputs.spot * np.exp(-inputs.dividend * t)
    discounted_strike = inputs.strike * np.exp(-inputs.rate * t)
    moneyness = sign * (discounted_spot - discounted_strike)
    in_the_money = moneyness > 0.0
    drift = sign * (inputs.dividend * discounted_spot - inputs.rate * discounted_strike)
    zero = np.zeros_like(moneyness)
    return Greeks(
        price=np.maximum(moneyness, 0.0),
        delta=np.where(in_the_money, sign * discounted_spot / inputs.spot, 0.0),
        gamma=zero,
        vega=zero,
        theta=np.where(in_the_money, drift / DAYS_PER_YEAR, 0.0),
    )


def _norm_cdf(x: FloatArray) -> FloatArray:
    result: FloatArray = ndtr(x)
    return result


def _fields(inputs: _Inputs) -> tuple[FloatArray, ...]:
    return (
        inputs.spot,
        inputs.strike,
        inputs.time,
        inputs.vol,
        inputs.rate,
        inputs.dividend,
        inputs.sign,
    )


def _greek_fields(greeks: Greeks) -> tuple[FloatArray, ...]:
    return (greeks.price, greeks.delta, greeks.gamma, greeks.vega, greeks.theta)


def _full(values: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    if values.shape == shape:
        # ufuncs return numpy scalars for 0-d input; callers are promised arrays.
        return np.asarray(values, dtype=np.float64)
    return np.array(np.broadcast_to(values, shape), dtype=np.float64)
