"""Gamma/vega hedging in the engine: plans on timers, and their option orders until filled.

On a timer due for a book's gamma/vega policy (at most once per `every_ns`), when the
book's gamma or vega on the underlying is outside its targets and none of its option
orders is still working, the cheapest plan (`hedger.core.option_hedge`) is sent as one
option order per contract traded, then the share order for the delta left, counting the
options' delta. Working option orders count toward the book's delta (revalued at each
decision) until filled or cancelled, so the share hedge is never undone meanwhile.
Option orders pass the same kill switch, latch, price guard, loss limit, rate limits and
per-minute notional caps as share orders (an option order's notional is its premium:
contracts × multiplier × model price); a plan is sent whole or not at all. Hedge options
are priced as the books' options are (`Revaluation.contract_greeks`): a plan priced
otherwise would aim at Greeks the book does not then show.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from hedger.core.actions import Action, SubmitHedgeOrder
from hedger.core.book import FILLED_EPSILON, Holding
from hedger.core.controls import OrderCheck
from hedger.core.decisions import HedgeDesk, Situation, derive_order_id
from hedger.core.events import FillReport, Side
from hedger.core.instruments import OptionContract, parse_instrument
from hedger.core.option_hedge import (
    GammaVegaPolicy,
    HedgeOption,
    OptionHedgePlan,
    plan_option_hedge,
)

if TYPE_CHECKING:
    from hedger.core.engine import EngineConfig


@dataclass(slots=True)
class WorkingOption:
    book: str
    contract: OptionContract
    remaining: float  # signed contracts
    ts_ns: int


class OptionHedger:
    def __init__(self, config: EngineConfig, desk: HedgeDesk) -> None:
        self._config = config
        self._desk = desk
        self.working: dict[str, WorkingOption] = {}
        self._evaluated_ns: dict[tuple[str, str], int] = {}

    def policy(self, book: str, symbol: str) -> GammaVegaPolicy | None:
        for underlying, policy in self._desk.setup(book).gamma_vega:
            if underlying == symbol:
                return policy
        return None

    def due(self, book: str, symbol: str, ts_ns: int) -> GammaVegaPolicy | None:
        """The book's gamma/vega policy when this timer starts a new interval of it."""
        policy = self.policy(book, symbol)
        if policy is None:
            return None
        last = self._evaluated_ns.get((book, symbol))
        if last is not None and ts_ns // policy.every_ns <= last // policy.every_ns:
            return None
        self._evaluated_ns[(book, symbol)] = ts_ns
        return policy

    def register(
        self, order_id: str, book: str, symbol: str, signed_qty: float, ts_ns: int
    ) -> bool:
        """Track an option order (sent, or read back); False when `symbol` is no option."""
        contract = parse_instrument(symbol, ts_ns)
        if not isinstance(contract, OptionContract):
            return False
        self.working[order_id] = WorkingOption(book, contract, signed_qty, ts_ns)
        return True

    def filled(self, fill: FillReport, holding: Callable[[str, str], Holding]) -> None:
        """A new fill: when it fills one of our option orders, that order works less, and its
        fee counts as hedging cost of the book's holding in the underlying."""
        order = self.working.get(fill.order_id or "")
        if order is None or order.book != fill.book:
            return
        signed_qty = fill.side.sign * fill.qty
        # An over-fill closes the order; the excess is booked with the fill regardless.
        order.remaining -= signed_qty if abs(signed_qty) < abs(order.remaining) else order.remaining
        if abs(order.remaining) < FILLED_EPSILON:
            del self.working[fill.order_id or ""]
        if fill.fee is not None:
            held = holding(fill.book, order.contract.root)
            held.fees += fill.fee
            held.trade_costs += fill.fee

    def sent(self, book: str, premium: float, ts_ns: int) -> None:
        """Account for an option order leaving now, or read back from the order topic: one
        token of the rate limits, and its `premium` (contracts × multiplier × model price)
        toward the notional caps."""
        limits = self._desk.setup(book).limits
        self._desk.throttle.take(book, limits.rate, ts_ns)
        self._desk.notional_caps.take(book, premium, ts_ns)

    def _working_on(self, book: str, symbol: str) -> list[WorkingOption]:
        if not self.working:  # the common case, asked for every book on every tick
            return []
        return [o for o in self.working.values() if o.book == book and o.contract.root == symbol]

    def any_working(self, book: str, symbol: str) -> bool:
        return bool(self._working_on(book, symbol))

    def working_delta(self, book: str, symbol: str, spot: float, ts_ns: int) -> float:
        """Delta in shares that the book's working option orders on `symbol` will bring."""
        orders = self._working_on(book, symbol)
        if not orders:
            return 0.0
        contracts = [o.contract for o in orders]
        greeks = self._desk.valuation.contract_greeks(symbol, contracts, spot, ts_ns)
        remaining = np.array([o.remaining for o in orders])
        return float(greeks.delta @ remaining) * self._config.default_multiplier

    def hedge(self, situation: Situation, policy: GammaVegaPolicy) -> list[Action]:
        """The plan's option orders then the share order, or a refusal, or nothing."""
        holding = situation.holding
        busy = self._working_on(situation.book, situation.symbol)
        if busy or policy.targets.contain(holding.option_gamma, holding.option_vega):
            return []
        options = self._hedge_options(policy, situation.symbol, situation.mark, situation.ts_ns)
        plan = plan_option_hedge(holding.option_gamma, holding.option_vega, options, policy.targets)
        if plan is None:
            detail = f"no trade in {list(policy.options)} reaches the gamma/vega targets"
            return [self._desk.deny(situation, "gamma_vega_infeasible", detail)]
        trades = [(o, n) for o, n in zip(options, plan.contracts, strict=True) if n != 0.0]
        notional = sum(abs(n) * option.price for option, n in trades)
        refusal = self._refusal(situation, len(trades), notional)
        if refusal is not None:
            return [refusal]
        actions: list[Action] = [self._order(situation, option, n, plan) for option, n in trades]
        actions += self._desk.decide(situation, extra_delta=plan.delta)
        return actions

    def _refusal(self, situation: Situation, orders: int, notional: float) -> Action | None:
        holding = situation.holding
        check = OrderCheck(
            book=situation.book,
            symbol=situation.symbol,
            quantity=0.0,  # option orders never count as reducing the hedge
            price=situation.mark,
            net_delta=holding.delta_with_working,
            hedge_position=holding.shares + holding.working_shares,
            book_pnl=self._desk.book_pnl(situation.book, self._desk.setup(situation.book)),
        )
        setup = self._desk.setup(situation.book)
        refusal = self._desk.pretrade_refusal(check, setup, situation.ts_ns)
        refusal = (
            refusal
            or self._desk.throttle.refusal(
                situation.book, setup.limits.rate, situation.ts_ns, orders
            )
            or self._desk.notional_caps.refusal(
                situation.book, setup.limits.max_notional_per_minute, notional, situation.ts_ns
            )
        )
        return None if refusal is None else self._desk.deny(situation, *refusal)

    def _order(
        self, situation: Situation, option: HedgeOption, contracts: float, plan: OptionHedgePlan
    ) -> SubmitHedgeOrder:
        order_id = derive_order_id(situation.book, option.symbol, situation.trigger)
        self.register(order_id, situation.book, option.symbol, contracts, situation.ts_ns)
        self.sent(situation.book, abs(contracts) * option.price, situation.ts_ns)
        setup = self._desk.setup(situation.book)
        return SubmitHedgeOrder(
            order_id=order_id,
            book=situation.book,
            symbol=option.symbol,
            side=Side.of(contracts),
            qty=abs(contracts),
            ts_ns=situation.ts_ns,
            ref_price=option.price / self._config.default_multiplier,
            reason="gamma_vega",
            delta_before=situation.holding.delta_with_working,
            target_delta=situation.holding.delta_with_working + plan.delta,
            policy=setup.policy.name,
            trigger=situation.trigger,
        )

    def _hedge_options(
        self, policy: GammaVegaPolicy, symbol: str, spot: float, ts_ns: int
    ) -> list[HedgeOption]:
        contracts = [parse_instrument(name, ts_ns) for name in policy.options]
        usable = [c for c in contracts if isinstance(c, OptionContract)]
        greeks = self._desk.valuation.contract_greeks(symbol, usable, spot, ts_ns)
        multiplier = self._config.default_multiplier
        cost = policy.half_spread * multiplier + policy.commission_per_contract
        return [
            HedgeOption(
                symbol=contract.occ_symbol,
                delta=float(greeks.delta[i]) * multiplier,
                gamma=float(greeks.gamma[i]) * multiplier,
                vega=float(greeks.vega[i]) * multiplier,
                cost_per_contract=cost,
                price=float(greeks.value[i]) * multiplier,
            )
            for i, contract in enumerate(usable)
        ]
