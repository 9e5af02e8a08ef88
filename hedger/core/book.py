"""What one book holds in one underlying, besides its options: shares, working hedge orders,
and the cost of hedging so far. Mutable state owned by the engine."""

from __future__ import annotations

from dataclasses import dataclass

# A working order whose remaining quantity is below this is complete (float dust).
FILLED_EPSILON = 1e-9


@dataclass(slots=True)
class Holding:
    """A book's position in one underlying. Option Greeks are those of the last revaluation."""

    shares: float = 0.0
    working_shares: float = 0.0
    option_delta: float = 0.0
    option_gamma: float = 0.0
    option_vega: float = 0.0
    option_theta: float = 0.0
    option_value: float = 0.0  # model value of the options, currency
    cash: float = 0.0  # paid (−) and received (+) for every fill, options and shares
    horizon_ns: int = 0  # the latest expiry of the options held (Whalley–Wilmott's T)
    fees: float = 0.0
    slippage: float = 0.0
    hedge_fills: int = 0
    last_order_ts_ns: int | None = None

    @property
    def delta(self) -> float:
        """Net delta in shares of what is held (options and shares, not working orders)."""
        return self.option_delta + self.shares

    @property
    def delta_with_working(self) -> float:
        # Written out rather than through `delta`: asked for every book on every tick.
        return self.option_delta + self.shares + self.working_shares


@dataclass(slots=True)
class WorkingOrder:
    """A hedge order sent and not yet completely filled; `remaining` is signed shares."""

    book: str
    symbol: str
    remaining: float
    ref_price: float
    ts_ns: int = 0  # when it was sent: the working-order timeout counts from here
