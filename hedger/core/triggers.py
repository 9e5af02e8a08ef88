"""What sets off a decision: an input on an underlying, for one book holding it, or a timer.

A timer (event time, `TimerFired`) first cancels the orders that outlived the
working-order timeout, then runs, for every book and underlying with a mark, the gamma/vega
plan and the timed rebalancing that are due. Every order decided is counted as working at
once (`OrderRegistry.register`), so the next decision sees it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hedger.core.actions import Action
from hedger.core.book import Holding
from hedger.core.decisions import HedgeDesk, Situation
from hedger.core.market import MarketState
from hedger.core.option_orders import OptionHedger
from hedger.core.orders import OrderRegistry

if TYPE_CHECKING:
    from hedger.core.engine import EngineConfig


class DecisionTriggers:
    def __init__(
        self,
        config: EngineConfig,
        market: MarketState,
        holdings: dict[tuple[str, str], Holding],
        desk: HedgeDesk,
        options: OptionHedger,
        orders: OrderRegistry,
    ) -> None:
        self._timeout_ns = config.controls.working_order_timeout_ns
        self._market = market
        self._holdings = holdings
        self._desk = desk
        self._options = options
        self._orders = orders

    def decide(
        self, book: str, symbol: str, mark: float, ts_ns: int, trigger: str, reason: str = "band"
    ) -> list[Action]:
        """One book's decision on one underlying, counting its working option orders."""
        holding = self._holdings[(book, symbol)]
        quiet = reason == "band" and not self._options.working
        if quiet and self._desk.inside_fixed_band(book, symbol, holding):
            return []
        situation = Situation(book, symbol, holding, mark, ts_ns, trigger, reason)
        working_options = self._options.working_delta(book, symbol, mark, ts_ns)
        return self._orders.register(self._desk.decide(situation, working_options))

    def on_timer(self, ts_ns: int) -> list[Action]:
        """Working-order timeouts, then gamma/vega plans and timed rebalancing that are due."""
        trigger = f"timer:{ts_ns}"
        actions = self._orders.expire(ts_ns, self._timeout_ns)
        for (book, symbol), holding in list(self._holdings.items()):
            tick = self._market.ticks.get(symbol)
            if tick is None:
                continue
            gamma_vega = self._options.due(book, symbol, ts_ns)
            if gamma_vega is not None:
                situation = Situation(
                    book, symbol, holding, tick.mark, ts_ns, trigger, "gamma_vega"
                )
                actions += self._orders.register(self._options.hedge(situation, gamma_vega))
            if self._desk.rebalance_due(book, symbol, ts_ns):
                actions += self.decide(book, symbol, tick.mark, ts_ns, trigger, "rebalance")
        return actions
