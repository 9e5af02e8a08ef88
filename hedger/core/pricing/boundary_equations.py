"""The discrete equations of the early-exercise boundary of a unit-strike American put.

Andersen, Lake & Offengelt, "High-performance American option pricing" (2016). With B(τ)
the boundary at time to expiry τ and x_max = min(1, r/q) its limit at expiry, the function
H(√τ) = s(τ)², s = ln(x_max / B), is smooth; it is held by its values at the ``NODES`` + 1
Chebyshev extrema in √τ ∈ [0, √T] (s = 0 at τ = 0) and interpolated between them.

The boundary solves the integral equation that value matching and smooth pasting impose
(the paper's FP-B): B(τ) = e^{−(r−q)τ} N(τ, B) / D(τ, B), where
  N = Φ(d−(τ, B(τ))) + r ∫_0^τ e^{ru} Φ(d−(τ − u, B(τ)/B(u))) du,
  D = Φ(d+(τ, B(τ))) + q ∫_0^τ e^{qu} Φ(d+(τ − u, B(τ)/B(u))) du,
with the integrals by ``FIXED_POINT_POINTS``-point Gauss-Legendre in θ ∈ [0, π], u =
τ(1 − cos θ)/2: both √u (the boundary near expiry) and √(τ − u) (the density) are smooth
in θ, so neither end of the interval costs accuracy. At the nodes this is one equation
each, R_i(s) = s_i − ln x_max − (r − q)τ_i + ln(N_i / D_i) = 0; `newton_system` gives R,
its exact Jacobian and its derivatives in σ and along a direction of (r, q), `curvature`
its second derivative along the boundary's vol slope.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.jit import jit, norm_cdf_given_pdf, norm_pdf

FloatArray = npt.NDArray[np.float64]

NODES = 5
FIXED_POINT_POINTS = 4
# Rows of a boundary state: s at the nodes, then its derivatives in vol, its second
# derivative in vol, and its derivative along the rate direction.
BOUNDARY, VOL_SLOPE, VOL_CURVATURE, RATE_SLOPE = range(4)
STATE_ROWS = 4


def interpolation_weights(z: FloatArray) -> FloatArray:
    """w[point, node] with H(z) = Σ w·H_node: the Chebyshev interpolant through the
    extrema (the node at τ = 0, where H = 0, left out)."""
    nodes = np.arange(NODES + 1)
    halved = np.where((nodes == 0) | (nodes == NODES), 0.5, 1.0)
    coefficients = 2.0 / NODES * halved * np.cos(np.pi * np.outer(nodes, nodes) / NODES)
    coefficients[[0, NODES]] *= 0.5
    polynomials = np.cos(np.outer(np.arccos(np.clip(z, -1.0, 1.0)), nodes))
    return np.ascontiguousarray((polynomials @ coefficients)[:, :NODES])


# Chebyshev extrema z_i = cos(iπ/n): τ_i / T = ((1 + z_i)/2)², node 0 at τ = T.
CHEBYSHEV_Z = np.cos(np.pi * np.arange(NODES + 1) / NODES)
NODE_FRACTIONS = (0.5 * (1.0 + CHEBYSHEV_Z)) ** 2
_LEGENDRE_X, _LEGENDRE_W = np.polynomial.legendre.leggauss(FIXED_POINT_POINTS)
_ANGLES = 0.5 * np.pi * (1.0 + _LEGENDRE_X)
# Per point, as fractions of τ: u (where B(u) is read), τ − u, and the weight of du.
_READ_FRACTIONS = 0.5 * (1.0 - np.cos(_ANGLES))
_ELAPSED_FRACTIONS = 1.0 - _READ_FRACTIONS
_WEIGHT_FRACTIONS = 0.25 * np.pi * _LEGENDRE_W * np.sin(_ANGLES)
# √((τ − u)/T) per node and point (the last point: √(τ/T), for the term outside the
# integrals), and its inverse: σ√(τ − u) without a square root per option.
_ROOT_ELAPSED = np.sqrt(np.outer(NODE_FRACTIONS[:NODES], np.append(_ELAPSED_FRACTIONS, 1.0)))
_INVERSE_ROOT_ELAPSED = 1.0 / _ROOT_ELAPSED
# Interpolation weights of B(u) per node and point; the extra point (zero weights) is the
# equation's term outside the integrals, treated as one more point of weight 1.
_FIXED_POINT_WEIGHTS = np.zeros((NODES, FIXED_POINT_POINTS + 1, NODES))
for _node in range(NODES):
    _FIXED_POINT_WEIGHTS[_node, :FIXED_POINT_POINTS] = interpolation_weights(
        (1.0 + CHEBYSHEV_Z[_node]) * np.sqrt(_READ_FRACTIONS) - 1.0
    )
# Columns of the per-point constants, then what `newton_system` leaves for `curvature`.
_SHIFT, _DEVIATION, _INVERSE, _RATE_W, _DIVIDEND_W, _RATE_W_SLOPE, _DIVIDEND_W_SLOPE = range(7)
_SHIFT_SLOPE, _D_PLUS, _RATE_MASS, _DIVIDEND_MASS, _INVERSE_DISTANCE = range(7, 12)
POINT_COLUMNS = 12
# Columns of a system: the Jacobian and the right-hand sides R, ∂R/∂σ, ∂R/∂ρ (solved in
# place); a copy of the Jacobian (D's row while a row is summed) and R̈; N and D per node.
NEWTON = NODES
NEWTON_STOP = NODES + 3
JACOBIAN = NODES + 3
CURVATURE = 2 * NODES + 3
_SUMS = 2 * NODES + 4
SYSTEM_COLUMNS = 2 * NODES + 6


@jit
def limit_at_expiry(rate: float, dividend: float) -> float:
    """The unit-strike put boundary just before expiry: min(1, r/q)."""
    if dividend <= 0.0:
        return 1.0
    return float(min(1.0, rate / dividend))


@jit
def log_limit_slope(
    rate: float, dividend: float, rate_slope: float, dividend_slope: float
) -> float:
    """The derivative of ln x_max along (rate_slope, dividend_slope)."""
    if dividend > 0.0 and rate < dividend:
        return rate_slope / rate - dividend_slope / dividend
    return 0.0


@jit
def point_constants(
    rate: float,
    dividend: float,
    vol: float,
    time: float,
    rate_slope: float,
    dividend_slope: float,
    points: FloatArray,
) -> None:
    """What does not depend on the boundary, per node and point (columns ``_SHIFT``…):
    (r − q)(τ − u), σ√(τ − u) and its inverse, the weights of Φ(d−) in N and Φ(d+) in D
    and their slopes along the rate direction, and the slope of the shift. Columns
    ``_D_PLUS``… are filled by each Newton step."""
    carry = rate - dividend
    carry_slope = rate_slope - dividend_slope
    scale = vol * math.sqrt(time)
    inverse_scale = 1.0 / scale
    log_limit = math.log(limit_at_expiry(rate, dividend))
    log_limit_moves = log_limit_slope(rate, dividend, rate_slope, dividend_slope)
    for node in range(NODES):
        tau = NODE_FRACTIONS[node] * time
        for j in range(FIXED_POINT_POINTS):
            elapsed = _ELAPSED_FRACTIONS[j] * tau
            read = _READ_FRACTIONS[j] * tau
            rate_growth = _WEIGHT_FRACTIONS[j] * tau * math.exp(rate * read)
            dividend_growth = _WEIGHT_FRACTIONS[j] * tau * math.exp(dividend * read)
            _set_point(
                points,
                node,
                j,
                (
                    carry * elapsed,
                    scale * _ROOT_ELAPSED[node, j],
                    inverse_scale * _INVERSE_ROOT_ELAPSED[node, j],
                    rate * rate_growth,
                    dividend * dividend_growth,
                    rate_slope * rate_growth * (1.0 + rate * read),
                    dividend_slope * dividend_growth * (1.0 + dividend * read),
                    carry_slope * elapsed,
                ),
            )
        # The term outside the integrals, weight 1: ln(B(τ)/1) = ln x_max − s_i.
        direct = FIXED_POINT_POINTS
        _set_point(
            points,
            node,
            direct,
            (
                log_limit + carry * tau,
                scale * _ROOT_ELAPSED[node, direct],
                inverse_scale * _INVERSE_ROOT_ELAPSED[node, direct],
                1.0,
                1.0,
                0.0,
                0.0,
                log_limit_moves + carry_slope * tau,
            ),
        )


@jit
def _set_point(points: FloatArray, node: int, j: int, values: tuple[float, ...]) -> None:
    for column in range(_SHIFT_SLOPE + 1):
        points[node, j, column] = values[column]


@jit
def newton_system(vol: float, state: FloatArray, points: FloatArray, system: FloatArray) -> None:
    """Row i of ``system``: [∂R_i/∂s | R_i, ∂R_i/∂σ, ∂R_i/∂ρ | ∂R_i/∂s again | · | N_i, D_i]
    with R_i = s_i − ln x_max − (r − q)τ_i + ln(N_i / D_i).

    N sums weight·Φ(d−) over the points, D weight·Φ(d+), with d± = m/v ± v/2 and m =
    √H(u) − s_i + shift: ∂d/∂s_i = −1/v, ∂d/∂s_k = w_k s_k/(√H v) through B(u), and
    ∂d±/∂σ = −d∓/σ at fixed m.
    """
    for node in range(NODES):
        numerator = (0.0, 0.0, 0.0)
        denominator = (0.0, 0.0, 0.0)
        for k in range(NODES):
            system[node, k] = 0.0  # N's Jacobian row
            system[node, JACOBIAN + k] = 0.0  # D's
        for j in range(FIXED_POINT_POINTS + 1):
            distance, inverse_distance = _root(state, node, j)
            deviation, inverse = points[node, j, _DEVIATION], points[node, j, _INVERSE]
            shift = points[node, j, _SHIFT]
            d_plus = (distance - state[BOUNDARY, node] + shift) * inverse + 0.5 * deviation
            d_minus = d_plus - deviation
            shift_slope = points[node, j, _SHIFT_SLOPE] * inverse
            rate_terms = _terms(
                d_minus,
                d_plus,
                points[node, j, _RATE_W],
                points[node, j, _RATE_W_SLOPE],
                shift_slope,
            )
            dividend_terms = _terms(
                d_plus,
                d_minus,
                points[node, j, _DIVIDEND_W],
                points[node, j, _DIVIDEND_W_SLOPE],
                shift_slope,
            )
            numerator = _add(numerator, rate_terms)
            denominator = _add(denominator, dividend_terms)
            points[node, j, _D_PLUS] = d_plus
            points[node, j, _RATE_MASS] = rate_terms[3]
            points[node, j, _DIVIDEND_MASS] = dividend_terms[3]
            points[node, j, _INVERSE_DISTANCE] = inverse_distance
            rate_jacobian, dividend_jacobian = rate_terms[3] * inverse, dividend_terms[3] * inverse
            system[node, node] -= rate_jacobian
            system[node, JACOBIAN + node] -= dividend_jacobian
            for k in range(NODES):
                through = _FIXED_POINT_WEIGHTS[node, j, k] * state[BOUNDARY, k] * inverse_distance
                system[node, k] += rate_jacobian * through
                system[node, JACOBIAN + k] += dividend_jacobian * through
        _finish_row(node, vol, state, points, numerator, denominator, system)


@jit
def _root(state: FloatArray, node: int, j: int) -> tuple[float, float]:
    """√H at point j of `node`, and 1/√H (0 where H <= 0: the boundary at x_max)."""
    square = 0.0
    for k in range(NODES):
        square += _FIXED_POINT_WEIGHTS[node, j, k] * state[BOUNDARY, k] * state[BOUNDARY, k]
    if not square > 0.0:
        return 0.0, 0.0
    inverse = 1.0 / math.sqrt(square)
    return square * inverse, inverse


@jit
def _distance_moves(
    state: FloatArray, node: int, j: int, inverse_distance: float
) -> tuple[float, float]:
    """The first and second derivatives of √H at point j of `node` along the vol slope ṡ:
    H = Σ w s², so (√H)˙ = Σ w s ṡ / √H and (√H)¨ = (Σ w ṡ² − (√H)˙²) / √H."""
    cross = 0.0
    slope_square = 0.0
    for k in range(NODES):
        weight = _FIXED_POINT_WEIGHTS[node, j, k]
        slope = state[VOL_SLOPE, k]
        cross += weight * state[BOUNDARY, k] * slope
        slope_square += weight * slope * slope
    first = cross * inverse_distance
    return first, (slope_square - first * first) * inverse_distance


@jit
def _terms(
    d: float, other: float, weight: float, weight_slope: float, shift_slope: float
) -> tuple[float, float, float, float]:
    """weight·Φ(d), the sum of its σ-derivative (times −σ: d± moves by −d∓/σ), its rate
    slope, and weight·φ(d)."""
    density = norm_pdf(d)
    cumulative = norm_cdf_given_pdf(d, density)
    mass = weight * density
    return weight * cumulative, mass * other, weight_slope * cumulative + mass * shift_slope, mass


@jit
def _add(
    total: tuple[float, float, float], terms: tuple[float, float, float, float]
) -> tuple[float, float, float]:
    return total[0] + terms[0], total[1] + terms[1], total[2] + terms[2]


@jit
def _finish_row(
    node: int,
    vol: float,
    state: FloatArray,
    points: FloatArray,
    numerator: tuple[float, float, float],
    denominator: tuple[float, float, float],
    system: FloatArray,
) -> None:
    """R_i and its derivatives from N's and D's totals (logarithmic derivatives)."""
    n, d = numerator[0], denominator[0]
    for k in range(NODES):
        system[node, k] = system[node, k] / n - system[node, JACOBIAN + k] / d
        system[node, JACOBIAN + k] = system[node, k]
    system[node, node] += 1.0
    system[node, JACOBIAN + node] += 1.0
    direct = FIXED_POINT_POINTS
    system[node, NEWTON] = state[BOUNDARY, node] - points[node, direct, _SHIFT] + math.log(n / d)
    system[node, NEWTON + 1] = (denominator[1] / d - numerator[1] / n) / vol
    system[node, NEWTON + 2] = (
        numerator[2] / n - denominator[2] / d - points[node, direct, _SHIFT_SLOPE]
    )
    system[node, _SUMS], system[node, _SUMS + 1] = n, d


@jit
def curvature(vol: float, state: FloatArray, points: FloatArray, system: FloatArray) -> None:
    """Column ``CURVATURE``: −R̈ of J s̈ = −R̈, R̈ the second derivative of R along (ṡ, 1)
    in (s, σ), from what the Newton step left in ``points``: d̈ = m̈/v − 2ṁ/(vσ) + 2(m/v)/σ²
    for d+ and d−, and (ln N)¨ = N̈/N − (Ṅ/N)² with N̈ = Σ weight·φ(d)(d̈ − d ḋ²)."""
    inverse_vol = 1.0 / vol
    for node in range(NODES):
        rate_dot_sum, rate_curve_sum, dividend_dot_sum, dividend_curve_sum = 0.0, 0.0, 0.0, 0.0
        for j in range(FIXED_POINT_POINTS + 1):
            distance_dot, distance_curve = _distance_moves(
                state, node, j, points[node, j, _INVERSE_DISTANCE]
            )
            deviation, inverse = points[node, j, _DEVIATION], points[node, j, _INVERSE]
            d_plus = points[node, j, _D_PLUS]
            d_minus = d_plus - deviation
            scaled_dot = (distance_dot - state[VOL_SLOPE, node]) * inverse
            scaled = d_plus - 0.5 * deviation
            curve = (
                distance_curve * inverse + 2.0 * (scaled * inverse_vol - scaled_dot) * inverse_vol
            )
            rate_dot = scaled_dot - d_plus * inverse_vol
            dividend_dot = scaled_dot - d_minus * inverse_vol
            rate_mass, dividend_mass = points[node, j, _RATE_MASS], points[node, j, _DIVIDEND_MASS]
            rate_dot_sum += rate_mass * rate_dot
            rate_curve_sum += rate_mass * (curve - d_minus * rate_dot * rate_dot)
            dividend_dot_sum += dividend_mass * dividend_dot
            dividend_curve_sum += dividend_mass * (curve - d_plus * dividend_dot * dividend_dot)
        n, d = system[node, _SUMS], system[node, _SUMS + 1]
        system[node, CURVATURE] = (
            (rate_dot_sum / n) ** 2
            - rate_curve_sum / n
            - (dividend_dot_sum / d) ** 2
            + dividend_curve_sum / d
        )
