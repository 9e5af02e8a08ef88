"""Black-Scholes-Merton price and delta from QuantLib, an implementation independent of
ours, for any real time to expiry (QuantLib's Black formula on the forward, as set up by
the Greeks tests)."""

from __future__ import annotations

from tests.core.test_greeks_second_order import calculator


def price(
    spot: float, strike: float, years: float, vol: float, rate: float, dividend: float, call: bool
) -> float:
    """Value of one European option."""
    return float(calculator(spot, strike, years, vol, rate, dividend, call).value())


def delta(
    spot: float, strike: float, years: float, vol: float, rate: float, dividend: float, call: bool
) -> float:
    """dV/dS of one European option."""
    return float(calculator(spot, strike, years, vol, rate, dividend, call).delta(spot))
