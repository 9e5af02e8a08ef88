"""Generalized Black-Scholes-Merton: price and eight Greeks of one European option.

Black-Scholes-Merton with a continuous dividend yield ``q`` (cost of carry b = r − q);
Black-76 for options on futures is the case q = r with the futures price as spot, and
then rho is taken with the futures price held fixed (``futures=True``: rho = −T × value).

Outputs, in the order of the ``PRICE`` … ``CHARM`` indices, per ONE option on ONE unit of
underlying (units as in `hedger.core.greeks`):
price; delta; gamma; vega per vol point; theta per calendar day; rho per percentage point
of rate; vanna (delta per vol point); volga (vega per vol point, per vol point); charm
(delta per calendar day). A calendar day is ``1 / days_per_year`` of a year.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.jit import jit, norm_cdf, norm_cdf_given_pdf, norm_pdf

FloatArray = npt.NDArray[np.float64]

PRICE, DELTA, GAMMA, VEGA, THETA, RHO, VANNA, VOLGA, CHARM = range(9)
OUTPUTS = 9
# Below this standard deviation d1 and d2 lose all meaning; the payoff is deterministic.
MIN_STANDARD_DEVIATION = 1e-12
# Below this φ(d1) has lost its relative precision (it underflows near 1e-308).
MIN_DENSITY = 1e-280
VOL_POINT = 0.01
RATE_POINT = 0.01


@jit
def european_row(
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
    """(price, delta, gamma, vega, theta, rho, vanna, volga, charm) of one option.

    ``sign`` is +1.0 for a call, −1.0 for a put. Expired (time <= 0): intrinsic value and
    a delta of ±1 in the money, everything else 0. Deterministic (σ√T below 1e-12): the
    discounted forward payoff and its exact time and rate derivatives.
    """
    horizon = time_constants(time, rate, dividend)
    return european_at(
        spot,
        strike,
        math.log(spot / strike),
        horizon,
        vol,
        rate,
        dividend,
        sign,
        futures,
        1.0 / days_per_year,
    )


@jit
def time_constants(time: float, rate: float, dividend: float) -> tuple[float, float, float, float]:
    """(T, √T, e^{−rT}, e^{−qT}): what every option with this time to expiry shares."""
    if time <= 0.0:
        return time, 0.0, 1.0, 1.0
    return time, math.sqrt(time), _discount(rate, time), _discount(dividend, time)


@jit
def _discount(rate: float, time: float) -> float:
    """e^{−rT}; exactly 1 without an exponential at a zero rate (no dividend, say)."""
    return 1.0 if rate == 0.0 else math.exp(-rate * time)


@jit
def european_at(
    spot: float,
    strike: float,
    log_moneyness: float,
    horizon: tuple[float, float, float, float],
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    per_day: float,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    """`european_row` from precomputed ln(S/K) and `time_constants` (``per_day`` = 1/D)."""
    time, sqrt_time, rate_discount, dividend_discount = horizon
    if time <= 0.0:
        moneyness = sign * (spot - strike)
        if moneyness > 0.0:
            return moneyness, sign, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    deviation = vol * sqrt_time
    if not deviation >= MIN_STANDARD_DEVIATION:
        return _deterministic(
            spot,
            strike,
            time,
            rate,
            dividend,
            sign,
            futures,
            per_day,
            dividend_discount,
            rate_discount,
        )
    inverse_deviation = 1.0 / deviation
    d1 = d1_term(log_moneyness, time, rate, dividend, deviation, inverse_deviation)
    d2 = d1 - deviation
    pdf_d1 = norm_pdf(d1)
    discounted_strike = strike * rate_discount
    # φ(d2) = φ(d1)·S e^{−qT}/(K e^{−rT}) exactly: one exponential per option, not two
    # (unless φ(d1) underflowed, where the ratio cannot recover φ(d2)).
    if pdf_d1 > MIN_DENSITY:
        pdf_d2 = pdf_d1 * (spot * dividend_discount) / discounted_strike
    else:
        pdf_d2 = norm_pdf(d2)
    hedge_ratio = dividend_discount * norm_cdf_given_pdf(sign * d1, pdf_d1)
    strike_leg = discounted_strike * norm_cdf_given_pdf(sign * d2, pdf_d2)
    # e^{-qT} φ(d1): shared by gamma, vega, theta and the second-order Greeks.
    density = dividend_discount * pdf_d1
    spot_density = spot * density
    decay = sign * (dividend * spot * hedge_ratio - rate * strike_leg) - (
        0.5 * spot_density * vol / sqrt_time
    )
    rho = sign * strike_leg * time
    if futures:
        rho -= sign * spot * hedge_ratio * time
    vega_per_unit = spot_density * sqrt_time
    inverse_vol = 1.0 / vol
    delta_decay = sign * dividend * hedge_ratio - density * (
        (rate - dividend) * inverse_deviation - 0.5 * d2 / time
    )
    return (
        sign * (spot * hedge_ratio - strike_leg),
        sign * hedge_ratio,
        density * inverse_deviation / spot,
        vega_per_unit * VOL_POINT,
        decay * per_day,
        rho * RATE_POINT,
        -density * d2 * inverse_vol * VOL_POINT,
        vega_per_unit * d1 * d2 * inverse_vol * (VOL_POINT * VOL_POINT),
        delta_decay * per_day,
    )


@jit
def european_delta(
    spot: float,
    strike: float,
    log_moneyness: float,
    horizon: tuple[float, float, float, float],
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    per_day: float,
) -> float:
    """The delta of `european_at`, to the bit, for a fraction of the cost (N(d1) only)."""
    time, sqrt_time, _, dividend_discount = horizon
    deviation = vol * sqrt_time
    if not (time > 0.0 and deviation >= MIN_STANDARD_DEVIATION):
        edge = european_at(
            spot, strike, log_moneyness, horizon, vol, rate, dividend, sign, futures, per_day
        )
        return edge[DELTA]
    d1 = d1_term(log_moneyness, time, rate, dividend, deviation, 1.0 / deviation)
    # N(x) takes φ(x) for x = ±d1: (−d1)² = d1², so the same bits as `european_at`'s.
    return sign * (dividend_discount * norm_cdf(sign * d1))


@jit
def d1_term(
    log_moneyness: float,
    time: float,
    rate: float,
    dividend: float,
    deviation: float,
    inverse_deviation: float,
) -> float:
    """d1 = (ln(S/K) + (r − q)τ)/(σ√τ) + σ√τ/2, with ``deviation`` σ√τ and its inverse."""
    return (log_moneyness + (rate - dividend) * time) * inverse_deviation + 0.5 * deviation


@jit
def _deterministic(
    spot: float,
    strike: float,
    time: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    per_day: float,
    dividend_discount: float,
    rate_discount: float,
) -> tuple[float, float, float, float, float, float, float, float, float]:
    discounted_spot = spot * dividend_discount
    discounted_strike = strike * rate_discount
    moneyness = sign * (discounted_spot - discounted_strike)
    if not moneyness > 0.0:
        return 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    drift = sign * (dividend * discounted_spot - rate * discounted_strike)
    rho = sign * discounted_strike * time
    if futures:
        rho -= sign * discounted_spot * time
    return (
        moneyness,
        sign * dividend_discount,
        0.0,
        0.0,
        drift * per_day,
        rho * RATE_POINT,
        0.0,
        0.0,
        sign * dividend * dividend_discount * per_day,
    )


@jit
def european_arrays(
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
    """Fill ``out[OUTPUTS, n]``. Each input is 1-D of length n, or of length 1 (broadcast)."""
    count = out.shape[1]
    steps = (
        int(spot.shape[0] > 1),
        int(strike.shape[0] > 1),
        int(time.shape[0] > 1),
        int(vol.shape[0] > 1),
        int(rate.shape[0] > 1),
        int(dividend.shape[0] > 1),
        int(sign.shape[0] > 1),
    )
    for i in range(count):
        row = european_row(
            spot[i * steps[0]],
            strike[i * steps[1]],
            time[i * steps[2]],
            vol[i * steps[3]],
            rate[i * steps[4]],
            dividend[i * steps[5]],
            sign[i * steps[6]],
            futures,
            days_per_year,
        )
        for field in range(OUTPUTS):
            out[field, i] = row[field]
