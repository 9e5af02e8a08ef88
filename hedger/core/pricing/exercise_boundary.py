"""The early-exercise boundary of a unit-strike American put, and its sensitivities.

Andersen, Lake & Offengelt (2016) find the boundary by fixed-point iteration of its
integral equation. Here the discrete equations (`hedger.core.pricing.boundary_equations`)
take one Newton step, with their exact Jacobian J, from Li's QD+ approximation
(`hedger.core.pricing.qd_plus`) at every node. Measured over the benchmark's 2,000
options: QD+ is within 5e-3 of the solution in ln B (median; 1.3e-2 at the 95th
percentile), the step leaves 1.4e-4 (4.5e-4; above 2e-3 only at the node nearest expiry
when q > r, up to 4e-2, a boundary the premium hardly reads). The same J gives, by implicit
differentiation (J ṡ = −∂R/∂θ), the boundary's derivatives in vol (first and second) and
along a direction of (r, q), from that one solve: the Greeks move the boundary by these
instead of re-solving it bumped.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.boundary_equations import (
    BOUNDARY,
    CHEBYSHEV_Z,
    CURVATURE,
    FIXED_POINT_POINTS,
    JACOBIAN,
    NEWTON,
    NEWTON_STOP,
    NODE_FRACTIONS,
    NODES,
    POINT_COLUMNS,
    RATE_SLOPE,
    SYSTEM_COLUMNS,
    VOL_CURVATURE,
    VOL_SLOPE,
    curvature,
    limit_at_expiry,
    newton_system,
    point_constants,
)
from hedger.core.pricing.jit import jit
from hedger.core.pricing.qd_plus import qd_plus

FloatArray = npt.NDArray[np.float64]

# s above this is a boundary below 1e-12 × x_max: no boundary at all, in effect.
_MAX_DISTANCE = 28.0
# √τ of each node over that of the next one towards expiry (the last: nothing to scale).
_ROOT_TIME_RATIOS = np.append((1.0 + CHEBYSHEV_Z[:-2]) / (1.0 + CHEBYSHEV_Z[1:-1]), 0.0)


@jit
def boundary_scratch() -> tuple[FloatArray, FloatArray]:
    """Working arrays for `solve_boundary`, reusable from one solve to the next."""
    return np.empty((NODES, FIXED_POINT_POINTS + 1, POINT_COLUMNS)), np.empty(
        (NODES, SYSTEM_COLUMNS)
    )


@jit
def solve_boundary(
    rate: float,
    dividend: float,
    vol: float,
    time: float,
    rate_slope: float,
    dividend_slope: float,
    state: FloatArray,
    scratch: tuple[FloatArray, FloatArray],
) -> None:
    """Fill ``state[STATE_ROWS, NODES]``: s = ln(x_max/B) at the nodes and its derivatives
    in vol and along (r, q) moving by (rate_slope, dividend_slope).

    The derivatives are taken where the Newton step starts (J and ∂R/∂θ there), off the
    solution by QD+'s error: the Greeks differ from differences of the price by up to
    ~1e-4 (vega, vanna), ~1e-3 (rho) and ~1e-2 (volga) of themselves.
    """
    points, system = scratch
    _start(rate, dividend, vol, time, state)
    point_constants(rate, dividend, vol, time, rate_slope, dividend_slope, points)
    newton_system(vol, state, points, system)
    _solve_linear(system, 0, NEWTON_STOP)
    for node in range(NODES):
        state[VOL_SLOPE, node] = -system[node, NEWTON + 1]
        state[RATE_SLOPE, node] = -system[node, NEWTON + 2]
    curvature(vol, state, points, system)
    _solve_linear(system, JACOBIAN, CURVATURE + 1)
    for node in range(NODES):
        state[VOL_CURVATURE, node] = system[node, CURVATURE]
        moved = state[BOUNDARY, node] - system[node, NEWTON]
        state[BOUNDARY, node] = min(max(moved, 0.0), _MAX_DISTANCE)


@jit
def _start(rate: float, dividend: float, vol: float, time: float, state: FloatArray) -> None:
    """QD+ at every node, from expiry back; each node's Halley iteration starts from the
    last node's s scaled by √τ (s grows like √τ near expiry)."""
    x_max = limit_at_expiry(rate, dividend)
    distance = 0.0
    for node in range(NODES - 1, -1, -1):
        guess = x_max * math.exp(-distance * _ROOT_TIME_RATIOS[node])
        boundary = qd_plus(rate, dividend, vol, NODE_FRACTIONS[node] * time, x_max, guess)
        distance = math.log(x_max / boundary)
        state[BOUNDARY, node] = distance


@jit
def _solve_linear(system: FloatArray, first: int, stop: int) -> None:
    """Solve A X = B in place by Gaussian elimination with partial pivoting, A the NODES
    columns of ``system`` from `first`, B the columns after them up to `stop`: X replaces B.
    """
    last = first + NODES
    for k in range(NODES):
        pivot = k
        for i in range(k + 1, NODES):
            if abs(system[i, first + k]) > abs(system[pivot, first + k]):
                pivot = i
        for c in range(first, stop):
            system[k, c], system[pivot, c] = system[pivot, c], system[k, c]
        for i in range(k + 1, NODES):
            factor = system[i, first + k] / system[k, first + k]
            for c in range(first + k, stop):
                system[i, c] -= factor * system[k, c]
    for k in range(NODES - 1, -1, -1):
        for c in range(last, stop):
            total = system[k, c]
            for i in range(k + 1, NODES):
                total -= system[k, first + i] * system[i, c]
            system[k, c] = total / system[k, first + k]
