"""Li's QD+ approximation of the exercise boundary of a unit-strike American put.

M. Li, "Analytical approximations for the critical stock prices of American options: a
performance comparison", Review of Derivatives Research 13 (2010): the boundary at one time
to expiry is the root of an equation in closed form, found by Halley's method. Here it only
starts the Newton solve of `hedger.core.pricing.exercise_boundary`, so a root within
``TOLERANCE`` (relative) is enough: Newton's steps take it the rest of the way.
"""

from __future__ import annotations

import math

from hedger.core.pricing.jit import jit, norm_cdf_given_pdf, norm_pdf

TOLERANCE = 1e-3
_HALLEY_STEPS = 20


@jit
def qd_plus(
    rate: float, dividend: float, vol: float, tau: float, x_max: float, start: float
) -> float:
    """The QD+ boundary at time to expiry `tau`, by Halley's method from `start`."""
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
    constants = (
        rate,
        dividend,
        0.5 * variance,
        deviation,
        1.0 / deviation,
        0.5 / tau,
        rate_discount,
        dividend_discount,
        (rate - dividend) * tau,
        dividend_discount / rate_discount,
        beta,
        alpha / (rate * rate_discount),
    )
    x_min = 1e-4 * x_max
    x = start
    for _ in range(_HALLEY_STEPS):
        previous = x
        x = max(x_min, x - _halley_step(x, constants))
        if abs(x - previous) < TOLERANCE * previous or not math.isfinite(x):
            break
    if not math.isfinite(x):
        return x_max
    return min(x, x_max)


@jit
def _halley_step(
    x: float,
    constants: tuple[
        float, float, float, float, float, float, float, float, float, float, float, float
    ],
) -> float:
    """f/f' / (1 − f·f''/(2f'²)) of Li's equation at x: with p the European put, Θ its
    theta and h = 1 − e^{−qτ}N(−d+), f = h·x − β(1 − x − p) + α/(r e^{−rτ})·Θ (the paper's
    form with its c0 multiplied out: no division by 1 − x − p)."""
    (
        rate,
        dividend,
        half_variance,
        deviation,
        inverse_deviation,
        half_inverse_tau,
        rate_discount,
        dividend_discount,
        log_forward,
        forward_ratio,
        beta,
        theta_weight,
    ) = constants
    d_plus = (math.log(x) + log_forward) * inverse_deviation + 0.5 * deviation
    d_minus = d_plus - deviation
    pdf_plus = norm_pdf(d_plus)
    # φ(d−) = φ(d+)·x e^{−qτ}/e^{−rτ}: one exponential, not two.
    pdf_minus = pdf_plus * x * forward_ratio
    tail_plus = dividend_discount * norm_cdf_given_pdf(-d_plus, pdf_plus)
    strike_leg = rate_discount * norm_cdf_given_pdf(-d_minus, pdf_minus)
    density = dividend_discount * pdf_plus
    theta = (
        rate * strike_leg
        - dividend * x * tail_plus
        - half_variance * x * inverse_deviation * density
    )
    charm = -density * ((rate - dividend) * inverse_deviation - d_minus * half_inverse_tau)
    charm -= dividend * tail_plus
    hedge = 1.0 - tail_plus
    f = hedge * x - beta * (1.0 - x - strike_leg + x * tail_plus) + theta_weight * theta
    f_prime = (1.0 + beta) * hedge + density * inverse_deviation + theta_weight * charm
    gamma = density * inverse_deviation / x
    colour = gamma * (
        dividend
        + (rate - dividend) * d_plus * inverse_deviation
        + (1.0 - d_plus * d_minus) * half_inverse_tau
    )
    f_second = (1.0 + beta - d_plus * inverse_deviation) * gamma + theta_weight * colour
    return f * f_prime / (f_prime * f_prime - 0.5 * f * f_second)
