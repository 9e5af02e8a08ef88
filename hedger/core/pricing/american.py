"""American calls and puts: the Andersen-Lake-Offengelt method, with Greeks from one solve.

Method (Andersen, Lake & Offengelt, "High-performance American option pricing", 2016):
the price is the European price plus the early-exercise premium, an integral over the
exercise boundary (`hedger.core.pricing.exercise_premium`, 16 points); the boundary solves
an integral equation, held at 5 Chebyshev nodes with 4-point quadrature
(`hedger.core.pricing.boundary_equations`) and solved by one Newton step from Li's QD+
approximation (`hedger.core.pricing.exercise_boundary`).

Documented error: the price within 1e-3 relative plus 1e-5 × strike of QuantLib's
finite-difference engine on a fine grid (tests/core/test_american.py; measured at most
4.8e-4 relative there, most of it the grid's own error). Measured against QuantLib's
high-precision QD+ fixed-point engine over 2,880 options (spot 70–130 at strike 100,
7 days to 3 years, vol 0.1–0.7, r 1–8%, q 0–8%, calls and puts): at most 1.7e-4 relative
on options worth over 0.1 (root mean square 1.2e-5), at most 0.09 of the documented
error. Greeks against differences of that engine's prices over 154 random options
(relative, with small floors): delta 5e-5, gamma 3e-3, vega 2e-4, rho 1.5e-3, vanna
3e-3, volga 7e-3. Far outside that range (σ√T of a few basis points over decades, rT of
several units) the error grows; the price is then never below exercising now.

Calls use put-call symmetry, C(S, K, r, q) = P(K, S, q, r), and every put is priced for a
unit strike: the boundary depends on (r, q, σ, T) only, so options sharing those share one
boundary (`american_arrays` reuses it for consecutive rows).

Greeks (units as in `hedger.core.greeks`): European Greeks in closed form plus the
premium's derivatives. Delta, gamma and speed are exact derivatives of the premium in spot
(the boundary does not depend on spot); vega, volga, vanna and rho move the boundary by
its own derivatives in vol and rate, from implicit differentiation of the discrete
boundary equations at the Newton step's start (they match differences of the price to
2e-4, 1e-3 for rho, 3e-2 for volga: the price also carries how QD+ moves). Theta and
charm of the premium come from the Black-Scholes equation, which the price satisfies
wherever exercise is not yet optimal (both are 0 where it is).

Cases without early exercise use the European price: a put when r·T < 1e-10 (r <= 0, or
too small to be worth exercising for), a call when q·T < 1e-10. A put with q < r < 0
(two boundaries) is priced as the greater of European and intrinsic, a stated
approximation. Tiny vol (σ√T < 1e-12): the greater of exercising now and the European
deterministic value.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.boundary_equations import NODES, STATE_ROWS
from hedger.core.pricing.european import (
    MIN_STANDARD_DEVIATION,
    OUTPUTS,
    RATE_POINT,
    VOL_POINT,
    european_row,
)
from hedger.core.pricing.exercise_boundary import boundary_scratch, solve_boundary
from hedger.core.pricing.exercise_premium import (
    PREMIUM_POINTS,
    TABLE_ROWS,
    exercise_threshold,
    fill_table,
    premium,
)
from hedger.core.pricing.jit import jit

FloatArray = npt.NDArray[np.float64]

MIN_CARRY_TIME = 1e-10


@jit
def american_row(
    spot: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    days_per_year: float,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """(price, delta, gamma, vega, theta, rho, vanna, volga, charm) of one American option.

    Same arguments and units as `european_row`; method and edge cases in the module doc.
    """
    table = np.empty((TABLE_ROWS, PREMIUM_POINTS))
    state = np.empty((STATE_ROWS, NODES))
    if not _solve(time, vol, rate, dividend, sign, futures, table, state, boundary_scratch()):
        return _without_premium(
            spot, strike, time, vol, rate, dividend, sign, futures, days_per_year
        )
    return _greeks(spot, strike, time, vol, rate, dividend, sign, futures, days_per_year, table)


@jit
def american_arrays(
    spot: FloatArray,
    strike: FloatArray,
    time: FloatArray,
    vol: FloatArray,
    rate: FloatArray,
    dividend: FloatArray,
    sign: FloatArray,
    futures: bool,
    days_per_year: float,
    out: FloatArray,
) -> None:
    """Fill ``out[OUTPUTS, n]``; inputs are 1-D of length n or 1. Consecutive options with
    the same (T, σ, r, q, call/put) share one boundary solve."""
    count = out.shape[1]
    table = np.empty((TABLE_ROWS, PREMIUM_POINTS))
    state = np.empty((STATE_ROWS, NODES))
    scratch = boundary_scratch()
    key = (np.nan, np.nan, np.nan, np.nan, 0.0)
    solved = False
    for i in range(count):
        s, k, t = (
            spot[min(i, spot.shape[0] - 1)],
            strike[min(i, strike.shape[0] - 1)],
            time[min(i, time.shape[0] - 1)],
        )
        v, r = vol[min(i, vol.shape[0] - 1)], rate[min(i, rate.shape[0] - 1)]
        q, w = dividend[min(i, dividend.shape[0] - 1)], sign[min(i, sign.shape[0] - 1)]
        if (t, v, r, q, w) != key:
            key = (t, v, r, q, w)
            solved = _solve(t, v, r, q, w, futures, table, state, scratch)
        if solved:
            row = _greeks(s, k, t, v, r, q, w, futures, days_per_year, table)
        else:
            row = _without_premium(s, k, t, v, r, q, w, futures, days_per_year)
        for field in range(OUTPUTS):
            out[field, i] = row[field]


@jit
def american_price_and_vega(
    spot: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
) -> tuple[float, float]:
    """Price and vega per unit of vol (not per point): what an implied-vol solver needs."""
    row = american_row(spot, strike, time, vol, rate, dividend, sign, futures, 365.0)
    return row[0], row[3] / VOL_POINT


@jit
def _put_rates(rate: float, dividend: float, sign: float) -> tuple[float, float]:
    """(r, q) of the unit-strike put that prices this option (put-call symmetry)."""
    if sign > 0.0:
        return dividend, rate
    return rate, dividend


@jit
def _rate_direction(sign: float, futures: bool) -> tuple[float, float]:
    """How the put's (r, q) move when the option's rate does: rho's direction (on futures,
    the dividend yield is the rate and moves with it)."""
    if futures:
        return 1.0, 1.0
    if sign > 0.0:
        return 0.0, 1.0
    return 1.0, 0.0


@jit
def _solve(
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    table: FloatArray,
    state: FloatArray,
    scratch: tuple[FloatArray, FloatArray],
) -> bool:
    """Fill the premium table of the option's boundary (through ``state`` and ``scratch``);
    False when the option has no early-exercise premium to integrate."""
    put_rate, put_dividend = _put_rates(rate, dividend, sign)
    # Below MIN_CARRY_TIME of r·T the premium is negligible (it vanishes as r → 0) and the
    # QD+ start divides by 1 − e^{−rT}.
    no_premium = time <= 0.0 or put_rate * time < MIN_CARRY_TIME
    if no_premium or not vol * math.sqrt(time) >= MIN_STANDARD_DEVIATION:
        return False
    rate_slope, dividend_slope = _rate_direction(sign, futures)
    solve_boundary(put_rate, put_dividend, vol, time, rate_slope, dividend_slope, state, scratch)
    fill_table(put_rate, put_dividend, vol, time, rate_slope, dividend_slope, state, table)
    return True


@jit
def _greeks(
    spot: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    days_per_year: float,
    table: FloatArray,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """European Greeks plus the premium's, through the unit-strike put: a put's premium is
    K·π(S/K), a call's S·π(K/S) with r and q swapped."""
    x = spot / strike if sign < 0.0 else strike / spot
    if x <= exercise_threshold(table):
        return sign * (spot - strike), sign, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    value, first, second, third, vega, volga, vanna, rho = premium(x, table)
    if sign < 0.0:
        scale = strike
        delta, gamma, speed = first, second / strike, third / (strike * strike)
    else:
        scale = spot
        ratio = x / spot
        delta, gamma = value - x * first, x * ratio * second
        speed = -ratio * ratio * (3.0 * second + x * third)
        vanna = vega - x * vanna
    european = european_row(spot, strike, time, vol, rate, dividend, sign, futures, days_per_year)
    price = scale * value
    intrinsic = sign * (spot - strike)
    if max(european[0], 0.0) + max(price, 0.0) < intrinsic:
        # Only far outside the documented range (a σ√T of a few basis points over
        # decades, say) does the method fall below exercising now; then exercising is the
        # better answer.
        return intrinsic, sign, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    variance = vol * vol
    carry = rate - dividend
    decay = rate * price - carry * spot * delta - 0.5 * variance * spot * spot * gamma
    delta_decay = (
        rate * delta
        - carry * (delta + spot * gamma)
        - variance * spot * gamma
        - 0.5 * variance * spot * spot * speed
    )
    return (
        max(european[0], 0.0) + max(price, 0.0),
        european[1] + delta,
        european[2] + gamma,
        european[3] + scale * vega * VOL_POINT,
        european[4] + decay / days_per_year,
        european[5] + scale * rho * RATE_POINT,
        european[6] + vanna * VOL_POINT,
        european[7] + scale * volga * VOL_POINT * VOL_POINT,
        european[8] + delta_decay / days_per_year,
    )


@jit
def _without_premium(
    spot: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    days_per_year: float,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """No early-exercise premium to integrate: European, floored by exercising now."""
    european = european_row(spot, strike, time, vol, rate, dividend, sign, futures, days_per_year)
    intrinsic = sign * (spot - strike)
    if time > 0.0 and intrinsic > european[0]:
        return intrinsic, sign, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    return european
