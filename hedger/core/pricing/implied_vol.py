"""Implied volatility from an option price, under the model that prices the option.

The solver is Newton's method on vol kept inside a bracket that every step narrows, with a
bisection step whenever Newton would leave it: it cannot diverge, and it stops when the
model price is within ``PRICE_TOLERANCE`` (1e-11 currency) of the target, inside the
1e-10 the quote path promises.

A price outside the no-arbitrage bounds has no implied vol and is refused with a status:
at or below the lower bound (intrinsic value — for a European option the discounted
forward intrinsic max(±(S e^{−qT} − K e^{−rT}), 0), for an American one also the
immediate exercise value), or at or above the upper bound (a call is worth less than
S e^{−qT}, a put less than K e^{−rT}; S and K for American options). A price inside the
bounds whose vol lies outside [``MIN_VOL``, ``MAX_VOL``] is refused as out of range.
"""

from __future__ import annotations

import math

from hedger.core.pricing.american import american_price_and_vega
from hedger.core.pricing.european import PRICE, VEGA, VOL_POINT, european_row
from hedger.core.pricing.jit import jit

SOLVED, BELOW_LOWER_BOUND, ABOVE_UPPER_BOUND, OUT_OF_RANGE, EXPIRED = range(5)
STATUS_REASONS = (
    "solved",
    "below_intrinsic",
    "above_upper_bound",
    "implied_vol_out_of_range",
    "expired_option",
)
PRICE_TOLERANCE = 1e-11
MIN_VOL = 1e-4
MAX_VOL = 10.0
_MAX_STEPS = 200


@jit
def price_bounds(
    spot: float,
    strike: float,
    time: float,
    rate: float,
    dividend: float,
    sign: float,
    american: bool,
) -> tuple[float, float]:
    """(lower, upper) no-arbitrage bounds of the option's price."""
    discounted_spot = spot * math.exp(-dividend * time)
    discounted_strike = strike * math.exp(-rate * time)
    lower = max(sign * (discounted_spot - discounted_strike), 0.0)
    upper = discounted_spot if sign > 0.0 else discounted_strike
    if american:
        lower = max(lower, sign * (spot - strike))
        upper = max(upper, spot if sign > 0.0 else strike)
    return lower, upper


@jit
def model_price_and_vega(
    spot: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    american: bool,
) -> tuple[float, float]:
    """Price and vega per unit of vol of one option under the chosen model."""
    if american:
        return american_price_and_vega(spot, strike, time, vol, rate, dividend, sign, futures)
    row = european_row(spot, strike, time, vol, rate, dividend, sign, futures, 365.0)
    return row[PRICE], row[VEGA] / VOL_POINT


@jit
def implied_vol(
    price: float,
    spot: float,
    strike: float,
    time: float,
    rate: float,
    dividend: float,
    sign: float,
    futures: bool,
    american: bool,
) -> tuple[float, int]:
    """(vol, status): the vol at which the model prices the option at `price`.

    ``status`` is ``SOLVED`` or the reason there is no such vol (``STATUS_REASONS``).
    """
    if time <= 0.0:
        return math.nan, EXPIRED
    lower, upper = price_bounds(spot, strike, time, rate, dividend, sign, american)
    if price <= lower:
        return math.nan, BELOW_LOWER_BOUND
    if price >= upper:
        return math.nan, ABOVE_UPPER_BOUND
    low, high = MIN_VOL, MAX_VOL
    if (
        model_price_and_vega(spot, strike, time, high, rate, dividend, sign, futures, american)[0]
        < price - PRICE_TOLERANCE
    ):
        return math.nan, OUT_OF_RANGE
    if (
        model_price_and_vega(spot, strike, time, low, rate, dividend, sign, futures, american)[0]
        > price + PRICE_TOLERANCE
    ):
        return math.nan, OUT_OF_RANGE
    # A start near the at-the-money solution (Brenner-Subrahmanyam), kept in the bracket.
    vol = min(max(price / spot * math.sqrt(2.0 * math.pi / time), 0.05), 2.0)
    for _ in range(_MAX_STEPS):
        model, vega = model_price_and_vega(
            spot, strike, time, vol, rate, dividend, sign, futures, american
        )
        error = model - price
        # Within tolerance in price, and in vol too wherever vega can tell vols apart.
        if abs(error) <= PRICE_TOLERANCE and abs(error) <= max(vega * 1e-12, 1e-15 * price):
            return vol, SOLVED
        if error > 0.0:
            high = vol
        else:
            low = vol
        step = vol - error / vega if vega > 0.0 else math.nan
        vol = step if low < step < high else 0.5 * (low + high)
        if high - low <= 1e-15 * high:
            break
    return vol, SOLVED if abs(error) <= PRICE_TOLERANCE else OUT_OF_RANGE
