"""What the decision path asks about books: mark-to-model P&L, Leland deltas, and the
Greeks of the options gamma/vega hedging trades.

Mark-to-model P&L of a book = Σ over its underlyings of `Holding.marked_pnl` (cash paid and
received for every fill of options and shares, and at settlement + the options' model
value + shares held × mark − hedge fees + financing credited). It reads the engine's
state (shared, never copied), so it is current.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from hedger.core.book import Holding
from hedger.core.instruments import OptionContract
from hedger.core.market import MarketState
from hedger.core.risk import BookGreeks

if TYPE_CHECKING:
    from hedger.core.engine import EngineConfig
    from hedger.core.revaluation import Revaluation


class EngineValuation:
    def __init__(
        self,
        config: EngineConfig,
        market: MarketState,
        revaluation: Revaluation,
        holdings: dict[tuple[str, str], Holding],
    ) -> None:
        self._config = config
        self._market = market
        self._revaluation = revaluation
        self._holdings = holdings

    def contract_greeks(
        self, symbol: str, contracts: list[OptionContract], spot: float, ts_ns: int
    ) -> BookGreeks:
        return self._revaluation.contract_greeks(symbol, contracts, spot, ts_ns)

    def book_pnl(self, book: str) -> float:
        pnl = 0.0
        for (owner, symbol), holding in self._holdings.items():
            if owner != book:
                continue
            tick = self._market.ticks.get(symbol)
            # No mark yet: the shares cannot be valued, and NaN makes the loss limit refuse.
            mark = tick.mark if tick is not None else float("nan")
            pnl += holding.marked_pnl(mark)
        return pnl

    def option_delta_with(
        self, book: str, symbol: str, ts_ns: int, adjust: Callable[[float], float]
    ) -> float:
        """The book's options' delta on `symbol` with every row's vol (surface or flat)
        passed through `adjust` (Leland's cost adjustment)."""
        columns = self._revaluation.columns(symbol)
        tick = self._market.ticks.get(symbol)
        if tick is None or book not in columns.books:
            return 0.0
        market = self._revaluation.market_inputs(symbol, tick.mark, ts_ns)
        row_vols = self._revaluation.row_vols(symbol, columns, ts_ns)
        if row_vols is None:
            greeks = columns.revalue(market._replace(vol=adjust(market.vol)))
        else:
            greeks = columns.revalue(market, np.array([adjust(vol) for vol in row_vols]))
        return float(greeks.delta[columns.book_index(book)])
