"""The early-exercise premium of a unit-strike American put, and its derivatives.

Given the boundary (`hedger.core.pricing.exercise_boundary`), the premium at normalized
spot x is (Andersen, Lake & Offengelt 2016, Kim's representation)
  ∫_0^T [r e^{−rt} Φ(−d−) − q x e^{−qt} Φ(−d+)] dt,  d± = d±(t, x / B(T − t)),
by ``PREMIUM_POINTS``-point Gauss-Legendre in ξ ∈ [0, 1], t = T ξ²(2 − ξ²): √t (the
density) and √(T − t) (the boundary near expiry) are both smooth in ξ, and the points
gather near t = 0, where the integrand is steepest for x near the boundary.

`fill_table` tabulates what does not depend on x once per boundary, so options sharing a
boundary (same T, σ, r, q) price from one table. `premium` returns the value with its
derivatives in x (three), in σ (first, second, and of the x-derivative) and along the rate
direction, each through the boundary's own derivatives (the boundary moves with σ and r).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.boundary_equations import (
    BOUNDARY,
    NODES,
    RATE_SLOPE,
    VOL_CURVATURE,
    VOL_SLOPE,
    interpolation_weights,
    limit_at_expiry,
    log_limit_slope,
)
from hedger.core.pricing.jit import jit, norm_cdf_given_pdf, norm_pdf

FloatArray = npt.NDArray[np.float64]

PREMIUM_POINTS = 16
# Rows of a premium table, one column per point: t, σ√t and its inverse, √t, the weighted
# r e^{−rt} and q e^{−qt} and their slopes along the rate direction, ln B(T − t) − (r − q)t,
# e^{(r−q)t}/B (φ(d−) = φ(d+)·x·that), and the slopes of m = ln x − ln B + (r − q)t in σ
# (first, second) and along the rate direction. The last row holds B(T) in column 0.
_TIME, _DEVIATION, _INVERSE, _ROOT = range(4)
_RATE_TERM, _DIVIDEND_TERM, _RATE_TERM_SLOPE, _DIVIDEND_TERM_SLOPE = range(4, 8)
_LOG_STRIKE, _DENSITY_RATIO, _M_VOL, _M_VOL_CURVE, _M_RATE = range(8, 13)
_EXERCISE = 13
TABLE_ROWS = 14

_LEGENDRE_X, _LEGENDRE_W = np.polynomial.legendre.leggauss(PREMIUM_POINTS)
_XI = 0.5 * (1.0 + _LEGENDRE_X)
_TIME_FRACTIONS = _XI**2 * (2.0 - _XI**2)
_WEIGHT_FRACTIONS = _LEGENDRE_W * 2.0 * _XI * (1.0 - _XI**2)
_ROOT_TIME_FRACTIONS = np.sqrt(_TIME_FRACTIONS)
# Where B(T − t) is read: √((T − t)/T) = 1 − ξ², as a Chebyshev argument 2√(τ/T) − 1.
_PREMIUM_WEIGHTS = interpolation_weights(1.0 - 2.0 * _XI**2)


@jit
def fill_table(
    rate: float,
    dividend: float,
    vol: float,
    time: float,
    rate_slope: float,
    dividend_slope: float,
    state: FloatArray,
    table: FloatArray,
) -> None:
    """The premium table (rows ``_TIME``…) of a boundary state, at every point."""
    log_limit = math.log(limit_at_expiry(rate, dividend))
    x_max_slope = log_limit_slope(rate, dividend, rate_slope, dividend_slope)
    root_time = math.sqrt(time)
    inverse_scale = 1.0 / (vol * root_time)
    for j in range(PREMIUM_POINTS):
        distance, vol_slope, vol_curve, rate_distance = _distance_at(_PREMIUM_WEIGHTS[j], state)
        t = _TIME_FRACTIONS[j] * time
        weight = _WEIGHT_FRACTIONS[j] * time
        rate_discount, dividend_discount = math.exp(-rate * t), math.exp(-dividend * t)
        log_strike = log_limit - distance - (rate - dividend) * t
        table[_TIME, j] = t
        table[_ROOT, j] = root_time * _ROOT_TIME_FRACTIONS[j]
        table[_DEVIATION, j] = vol * table[_ROOT, j]
        table[_INVERSE, j] = inverse_scale / _ROOT_TIME_FRACTIONS[j]
        table[_RATE_TERM, j] = weight * rate * rate_discount
        table[_DIVIDEND_TERM, j] = weight * dividend * dividend_discount
        table[_RATE_TERM_SLOPE, j] = weight * rate_slope * (1.0 - rate * t) * rate_discount
        table[_DIVIDEND_TERM_SLOPE, j] = (
            weight * dividend_slope * (1.0 - dividend * t) * dividend_discount
        )
        table[_LOG_STRIKE, j] = log_strike
        table[_DENSITY_RATIO, j] = math.exp(-log_strike)
        table[_M_VOL, j] = vol_slope
        table[_M_VOL_CURVE, j] = vol_curve
        table[_M_RATE, j] = (rate_slope - dividend_slope) * t - x_max_slope + rate_distance
    table[_EXERCISE, 0] = math.exp(log_limit - state[BOUNDARY, 0])


@jit
def _distance_at(weights: FloatArray, state: FloatArray) -> tuple[float, float, float, float]:
    """s = √H between the nodes, its first and second derivatives in σ and its derivative
    along the rate direction (H = Σ w s_i², so Ḣ = 2Σ w s_i ṡ_i and so on)."""
    square, vol_cross, vol_curve, rate_cross = 0.0, 0.0, 0.0, 0.0
    for k in range(NODES):
        s = state[BOUNDARY, k]
        slope = state[VOL_SLOPE, k]
        square += weights[k] * s * s
        vol_cross += weights[k] * s * slope
        vol_curve += weights[k] * (slope * slope + s * state[VOL_CURVATURE, k])
        rate_cross += weights[k] * s * state[RATE_SLOPE, k]
    if not square > 0.0:
        return 0.0, 0.0, 0.0, 0.0
    distance = math.sqrt(square)
    vol_slope = vol_cross / distance
    return (
        distance,
        vol_slope,
        (vol_curve - vol_slope * vol_slope) / distance,
        rate_cross / distance,
    )


@jit
def exercise_threshold(table: FloatArray) -> float:
    """B(T): at or below it, exercising now is optimal."""
    return float(table[_EXERCISE, 0])


@jit
def premium(
    x: float, table: FloatArray
) -> tuple[float, float, float, float, float, float, float, float]:
    """(π, π_x, π_xx, π_xxx, π_σ, π_σσ, π_xσ, π_ρ) of the premium at normalized spot x.

    Per point, with a = r e^{−rt} φ(d−) and b = q x e^{−qt} φ(d+) (weighted), the
    integrand g has g_m = (b − a)/v, g_v = (a d+ − b d−)/v and g_xx = (a d+ − b d−)/(x v)²,
    m and v = σ√t as above; the σ-derivatives follow m and v by the chain rule.
    """
    log_x = math.log(x)
    value, first, second, third, vega, volga, vanna, rho = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for j in range(PREMIUM_POINTS):
        deviation, inverse, root = table[_DEVIATION, j], table[_INVERSE, j], table[_ROOT, j]
        scaled = (log_x - table[_LOG_STRIKE, j]) * inverse
        d_plus = scaled + 0.5 * deviation
        d_minus = d_plus - deviation
        pdf_plus = norm_pdf(d_plus)
        pdf_minus = pdf_plus * x * table[_DENSITY_RATIO, j]
        tail_plus = norm_cdf_given_pdf(-d_plus, pdf_plus)
        tail_minus = norm_cdf_given_pdf(-d_minus, pdf_minus)
        rate_term, dividend_term = table[_RATE_TERM, j], x * table[_DIVIDEND_TERM, j]
        a, b = rate_term * pdf_minus, dividend_term * pdf_plus
        g_v = (a * d_plus - b * d_minus) * inverse
        g_m = (b - a) * inverse
        g_mm = (a * d_minus - b * d_plus) * inverse * inverse
        g_mv = (b - a) * (d_plus * d_minus - 1.0) * inverse * inverse
        g_vv = (d_plus * d_minus * g_v - 2.0 * (a - b) * scaled * inverse) * inverse
        m_vol = table[_M_VOL, j]
        value += rate_term * tail_minus - dividend_term * tail_plus
        first += g_m - dividend_term * tail_plus
        second += g_v * inverse
        third += ((a - b) * inverse - (d_minus + 2.0 * deviation) * g_v) * inverse * inverse
        vega += g_m * m_vol + g_v * root
        volga += (
            (g_mm * m_vol + 2.0 * g_mv * root) * m_vol
            + g_vv * root * root
            + g_m * table[_M_VOL_CURVE, j]
        )
        vanna += b * (m_vol - d_minus * root) * inverse + g_mm * m_vol + g_mv * root
        rho += (
            table[_RATE_TERM_SLOPE, j] * tail_minus
            - x * table[_DIVIDEND_TERM_SLOPE, j] * tail_plus
            + g_m * table[_M_RATE, j]
        )
    # The x-derivatives' powers of 1/x, taken out of the sums.
    return value, first / x, second / (x * x), third / (x * x * x), vega, volga, vanna / x, rho
