"""The bare baseline for Greeks: a plain numpy Black-Scholes-Merton kernel.

No validation, no edge cases, no broadcasting to a common shape: the least work that
gives price, delta, gamma, vega (per vol point), theta (per calendar day) and rho (per
percentage point of rate) for
European options with T > 0 and vol > 0. Same units as `hedger.core.greeks`.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from scipy.special import ndtr

FloatArray = npt.NDArray[np.float64]

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def bare_black_scholes(
    spot: FloatArray | float,
    strike: FloatArray,
    time_years: FloatArray,
    vol: FloatArray | float,
    rate: float,
    dividend_yield: float,
    sign: FloatArray,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """(price, delta, gamma, vega, theta, rho); `sign` is +1.0 for calls, -1.0 for puts."""
    sqrt_time = np.sqrt(time_years)
    deviation = vol * sqrt_time
    spot_discount = np.exp(-dividend_yield * time_years)
    strike_discount = strike * np.exp(-rate * time_years)
    d1 = (np.log(spot / strike) + (rate - dividend_yield) * time_years) / deviation
    d1 += 0.5 * deviation
    d2 = d1 - deviation
    delta = sign * spot_discount * ndtr(sign * d1)
    strike_leg = strike_discount * ndtr(sign * d2)
    density = spot * spot_discount * _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    price = spot * delta - sign * strike_leg
    gamma = density / (spot * spot * deviation)
    vega = density * sqrt_time * 0.01
    carry = dividend_yield * spot * delta - sign * rate * strike_leg
    theta = (-density * vol / (2.0 * sqrt_time) + carry) / 365.0
    rho = sign * strike_leg * time_years * 0.01
    return price, delta, gamma, vega, theta, rho
