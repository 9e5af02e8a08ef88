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
    # For the P&L and its attribution (`hedger.core.pnl_attribution`):
    financing: float = 0.0  # interest and dividends credited so far
    trade_costs: float = 0.0  # fees + (fill price − mark) × signed shares, every share fill
    shares_pnl: float = 0.0  # the shares' P&L since the last valuation, as shares changed
    share_anchor: float | None = None  # the mark `shares_pnl` counts on from

    def marked_pnl(self, mark: float) -> float:
        """Mark-to-model P&L at `mark`, with the options as last revalued."""
        shares_value = self.shares * mark if self.shares else 0.0
        return self.cash + self.option_value + shares_value - self.fees + self.financing

    def move_shares(self, signed: float, mark: float) -> None:
        """Shares bought (+) or sold (−) while the underlying is at `mark`: the shares held
        until now have earned their P&L up to it."""
        if self.share_anchor is not None:
            self.shares_pnl += self.shares * (mark - self.share_anchor)
        self.share_anchor = mark
        self.shares += signed

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
