"""The early-exercise boundary of a unit-strike American put, by fixed-point iteration.

Andersen, Lake & Offengelt, "High-performance American option pricing" (2016). With
B(τ) the boundary at time to expiry τ and x_max = min(1, r/q) its limit at expiry, the
function H(√τ) = ln(B(τ)/x_max)² is smooth and is held by its values at the ``NODES`` + 1
Chebyshev extrema in √τ ∈ [0, √T] (interpolated by Clenshaw's sum between them).

* Start: Li's QD+ approximation at every node (a Halley solve each).
* Step: B ← K e^{−(r−q)τ} N(τ, B)/D(τ, B), the integral equation that value matching and
  smooth pasting impose — system FP-B, or FP-A when |r − q| < ``FP_A_CARRY`` (where FP-B's
  numerator and denominator both vanish) — with the integrals over [0, τ] by
  ``FIXED_POINT_POINTS``-point Gauss-Legendre; ``newton`` takes the Jacobi-Newton step
  of the paper instead of the plain one.
* `fill_table` tabulates what the premium integral needs at its ``PREMIUM_POINTS``
  Gauss-Legendre points in √t, so options sharing a boundary price from one table.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.jit import jit, norm_cdf, norm_pdf

FloatArray = npt.NDArray[np.float64]

NODES = 6
FIXED_POINT_POINTS = 8
PREMIUM_POINTS = 16
FP_A_CARRY = 0.001
# Rows of a premium table: t, boundary at T − t, weight, e^{−rt}, e^{−qt}, σ√t, and one
# row whose first four cells hold B(T), r, q and σ.
TABLE_ROWS = 7
_HALLEY_TOLERANCE = 1e-10
_HALLEY_STEPS = 20

_FP_X, _FP_W = np.polynomial.legendre.leggauss(FIXED_POINT_POINTS)
_PREMIUM_X, _PREMIUM_W = np.polynomial.legendre.leggauss(PREMIUM_POINTS)
# Chebyshev extrema z_i = cos(iπ/n), i = 0..n: z = 1 is τ = T, z = −1 is τ = 0.
_CHEBYSHEV_Z = np.cos(np.pi * np.arange(NODES + 1) / NODES)
_CHEBYSHEV_COS = np.cos(np.pi * np.outer(np.arange(NODES + 1), np.arange(NODES + 1)) / NODES)


@jit
def fill_table(
    rate: float, dividend: float, vol: float, time: float, y: FloatArray, table: FloatArray
) -> None:
    """What the premium integral needs of one boundary, at its quadrature points.

    Rows: t, boundary at T − t, weight, e^{−rt}, e^{−qt}, σ√t; column 0 of an extra row
    holds B(T), r, q and σ.
    """
    x_max = limit_at_expiry(rate, dividend)
    coefficients = _chebyshev_coefficients(y)
    half_root = 0.5 * math.sqrt(time)
    for j in range(PREMIUM_POINTS):
        z = half_root * _PREMIUM_X[j] + half_root
        t = z * z
        table[0, j] = t
        table[1, j] = _boundary_at(coefficients, x_max, time - t, time)
        table[2, j] = _PREMIUM_W[j] * 2.0 * z * half_root
        table[3, j] = math.exp(-rate * t)
        table[4, j] = math.exp(-dividend * t)
        table[5, j] = vol * z
    table[6, 0] = _boundary_at(coefficients, x_max, time, time)
    table[6, 1] = rate
    table[6, 2] = dividend
    table[6, 3] = vol


@jit
def limit_at_expiry(rate: float, dividend: float) -> float:
    """The unit-strike put boundary just before expiry: min(1, r/q)."""
    if dividend <= 0.0:
        return 1.0
    return float(min(1.0, rate / dividend))


@jit
def _node_time(time: float, node: int) -> float:
    root = 0.5 * math.sqrt(time) * (1.0 + float(_CHEBYSHEV_Z[node]))
    return root * root


@jit
def initial_boundary(rate: float, dividend: float, vol: float, time: float, y: FloatArray) -> None:
    """QD+ boundary at every node, as y = ln(B / x_max)²."""
    x_max = limit_at_expiry(rate, dividend)
    for node in range(NODES + 1):
        tau = _node_time(time, node)
        if tau <= 0.0:
            y[node] = 0.0
            continue
        boundary = _qd_plus(rate, dividend, vol, tau, x_max)
        y[node] = math.log(boundary / x_max) ** 2


@jit
def _qd_plus(rate: float, dividend: float, vol: float, tau: float, x_max: float) -> float:
    """Li's QD+ exercise boundary of a unit-strike put at time to expiry `tau` (Halley)."""
    variance = vol * vol
    deviation = vol * math.sqrt(tau)
    rate_discount = math.exp(-rate * tau)
    dividend_discount = math.exp(-dividend * tau)
    omega = 2.0 * (rate - dividend) / variance
    one_minus = 1.0 - rate_discount
    root = math.sqrt((omega - 1.0) ** 2 + 8.0 * rate / (variance * one_minus))
    lam = 0.5 * (-(omega - 1.0) - root)
    lam_prime = 2.0 * rate / (variance * one_minus * one_minus * root)
    alpha = 2.0 * rate_discount * rate / (variance * (2.0 * lam + omega - 1.0))
    beta = alpha * (1.0 / one_minus + lam_prime / (2.0 * lam + omega - 1.0)) - lam
    x_min = 1e-4 * x_max
    x = x_max
    for _ in range(_HALLEY_STEPS):
        d_plus = math.log(x * dividend_discount / rate_discount) / deviation + 0.5 * deviation
        d_minus = d_plus - deviation
        cdf_plus, cdf_minus, pdf_plus = norm_cdf(-d_plus), norm_cdf(-d_minus), norm_pdf(d_plus)
        value = rate_discount * cdf_minus - x * dividend_discount * cdf_plus
        theta = (
            rate * rate_discount * cdf_minus
            - dividend * x * dividend_discount * cdf_plus
            - variance * x / (2.0 * deviation) * dividend_discount * pdf_plus
        )
        charm = -dividend_discount * (
            pdf_plus * ((rate - dividend) / deviation - d_minus / (2.0 * tau)) + dividend * cdf_plus
        )
        exercise_gap = 1.0 - x - value
        if abs(exercise_gap) < 1e-14:
            f = (1.0 - dividend_discount * cdf_plus) * x + alpha * theta / (rate_discount * rate)
        else:
            c0 = -beta - lam + alpha * theta / (rate_discount * rate * exercise_gap)
            f = (1.0 - dividend_discount * cdf_plus) * x + (lam + c0) * exercise_gap
        f_prime = (
            1.0
            - dividend_discount * cdf_plus
            + dividend_discount / deviation * pdf_plus
            + beta * (1.0 - dividend_discount * cdf_plus)
            + alpha / (rate * rate_discount) * charm
        )
        gamma = pdf_plus * dividend_discount / (deviation * x)
        colour = gamma * (
            dividend
            + (rate - dividend) * d_plus / deviation
            + (1.0 - d_plus * d_minus) / (2.0 * tau)
        )
        f_second = (
            dividend_discount
            * (pdf_plus / (x * deviation) - pdf_plus * d_plus / (x * deviation * deviation))
            + beta * gamma
            + alpha / (rate * rate_discount) * colour
        )
        ratio = f * f_second / (f_prime * f_prime)
        step = f / f_prime / (1.0 - 0.5 * ratio)
        previous = x
        x = max(x_min, x - step)
        if abs(x - previous) < _HALLEY_TOLERANCE or not math.isfinite(x):
            break
    if not math.isfinite(x):
        return x_max
    return min(x, x_max)


@jit
def _chebyshev_coefficients(y: FloatArray) -> FloatArray:
    """Coefficients of the interpolant through the extrema nodes (halved ends)."""
    coefficients = np.zeros(NODES + 1)
    for k in range(NODES + 1):
        total = 0.0
        for i in range(NODES + 1):
            weight = 0.5 if i == 0 or i == NODES else 1.0
            total += weight * y[i] * _CHEBYSHEV_COS[k, i]
        coefficients[k] = 2.0 * total / NODES
    coefficients[0] *= 0.5
    coefficients[NODES] *= 0.5
    return coefficients


@jit
def _chebyshev(coefficients: FloatArray, z: float) -> float:
    """Clenshaw's sum of c_k T_k(z)."""
    b1 = 0.0
    b2 = 0.0
    for k in range(NODES, 0, -1):
        b1, b2 = 2.0 * z * b1 - b2 + float(coefficients[k]), b1
    return z * b1 - b2 + float(coefficients[0])


@jit
def _boundary_at(coefficients: FloatArray, x_max: float, tau: float, time: float) -> float:
    z = 2.0 * math.sqrt(max(tau, 0.0) / time) - 1.0
    return x_max * math.exp(-math.sqrt(max(_chebyshev(coefficients, z), 0.0)))


@jit
def d_plus_minus(t: float, ratio: float, carry: float, vol: float) -> tuple[float, float]:
    deviation = vol * math.sqrt(t)
    d_plus = (math.log(ratio) + carry * t) / deviation + 0.5 * deviation
    return d_plus, d_plus - deviation


@jit
def iterate(
    rate: float,
    dividend: float,
    vol: float,
    time: float,
    y: FloatArray,
    newton_steps: int,
    plain_steps: int,
) -> None:
    """Jacobi-Newton steps, then plain steps, of the boundary fixed point, in place.

    What does not depend on the boundary (quadrature points, discounting, deviations) is
    tabulated once for all the steps.
    """
    points = _quadrature_table(rate, dividend, vol, time)
    for step in range(newton_steps + plain_steps):
        _step(rate, dividend, vol, time, y, points, step < newton_steps)


@jit
def _quadrature_table(rate: float, dividend: float, vol: float, time: float) -> FloatArray:
    """Per node and quadrature point: where B is read (Chebyshev argument), the elapsed
    time t and σ√t of d±, and the weights of Φ(d−), φ(d−), Φ(d+), φ(d+) in N and D.

    FP-B: N = Φ(d−(τ)) + r∫e^{ru}Φ(d−)du, D = Φ(d+(τ)) + q∫e^{qu}Φ(d+)du over u in [0, τ].
    FP-A: the same system differentiated in τ, integrated in y with τ − u = τ(1 + y)²/4,
    which removes the 1/√(τ − u) singularity of its density terms.
    """
    table = np.zeros((NODES, FIXED_POINT_POINTS, 7))
    use_a = abs(rate - dividend) < FP_A_CARRY
    for node in range(NODES):
        tau = _node_time(time, node)
        half = 0.5 * tau
        root_over_vol = math.sqrt(tau) / vol
        for j in range(FIXED_POINT_POINTS):
            x, w = _FP_X[j], _FP_W[j]
            if use_a:
                elapsed = 0.25 * tau * (1.0 + x) ** 2
                at = tau - elapsed
                rate_weight = w * math.exp(rate * at)
                dividend_weight = w * math.exp(dividend * at)
                table[node, j, 4] = rate * rate_weight * root_over_vol
                table[node, j, 5] = dividend * dividend_weight * half * (1.0 + x)
                table[node, j, 6] = dividend * dividend_weight * root_over_vol
            else:
                at = half * x + half
                elapsed = tau - at
                table[node, j, 3] = rate * half * w * math.exp(rate * at)
                table[node, j, 5] = dividend * half * w * math.exp(dividend * at)
            table[node, j, 0] = 2.0 * math.sqrt(at / time) - 1.0
            table[node, j, 1] = elapsed
            table[node, j, 2] = vol * math.sqrt(elapsed)
    return table


@jit
def _step(
    rate: float,
    dividend: float,
    vol: float,
    time: float,
    y: FloatArray,
    points: FloatArray,
    newton: bool,
) -> None:
    x_max = limit_at_expiry(rate, dividend)
    coefficients = _chebyshev_coefficients(y)
    carry = rate - dividend
    use_a = abs(carry) < FP_A_CARRY
    updated = np.empty(NODES + 1)
    updated[NODES] = 0.0
    for node in range(NODES):
        tau = _node_time(time, node)
        b = _boundary_at(coefficients, x_max, tau, time)
        numerator, denominator = _integrals(b, coefficients, x_max, carry, points[node], use_a)
        d_plus, d_minus = d_plus_minus(tau, b, carry, vol)
        deviation = vol * math.sqrt(tau)
        pdf_plus, pdf_minus = norm_pdf(d_plus), norm_pdf(d_minus)
        if use_a:
            numerator += pdf_minus / deviation
            denominator += pdf_plus / deviation + norm_cdf(d_plus)
            d_num = -pdf_minus * d_minus / (b * deviation * deviation)
            d_den = (pdf_plus - pdf_plus * d_plus / deviation) / (b * deviation)
        else:
            numerator += norm_cdf(d_minus)
            denominator += norm_cdf(d_plus)
            d_num, d_den = pdf_minus / (b * deviation), pdf_plus / (b * deviation)
        scale = math.exp(-carry * tau)
        fixed = scale * numerator / denominator
        if newton:
            slope = scale * (d_num / denominator - d_den * numerator / denominator**2)
            fixed = b - (fixed - b) / (slope - 1.0)
        fixed = min(max(fixed, 1e-12 * x_max), x_max)
        updated[node] = math.log(fixed / x_max) ** 2
    y[:] = updated


@jit
def _integrals(
    b: float,
    coefficients: FloatArray,
    x_max: float,
    carry: float,
    points: FloatArray,
    use_a: bool,
) -> tuple[float, float]:
    """The integral parts of N and D at boundary value b, from one node's table."""
    numerator = 0.0
    denominator = 0.0
    for j in range(FIXED_POINT_POINTS):
        z, elapsed, deviation = points[j, 0], points[j, 1], points[j, 2]
        boundary = x_max * math.exp(-math.sqrt(max(_chebyshev(coefficients, z), 0.0)))
        d_plus = (math.log(b / boundary) + carry * elapsed) / deviation + 0.5 * deviation
        d_minus = d_plus - deviation
        if use_a:
            numerator += points[j, 4] * norm_pdf(d_minus)
            denominator += points[j, 5] * norm_cdf(d_plus) + points[j, 6] * norm_pdf(d_plus)
        else:
            numerator += points[j, 3] * norm_cdf(d_minus)
            denominator += points[j, 5] * norm_cdf(d_plus)
    return numerator, denominator
