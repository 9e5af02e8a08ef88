"""Our hedge orders while they work: registration, read-back on a restart, cancels, timeouts.

Every order id sent or read back is known, so a replay never sends it again. Working share
orders count toward their book's delta until filled or cancelled (the engine reduces them
on fills); working option orders are tracked by the option hedger. An order working longer
than the working-order timeout (event time) is cancelled: it stops counting, and a cancel
goes to the order topic, where a restart reads it back. Engaging a kill switch cancels
the orders working in its scope the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from hedger.core.actions import Action, CancelHedgeOrder, SubmitHedgeOrder
from hedger.core.book import Holding, WorkingOrder
from hedger.core.controls import ALL_BOOKS
from hedger.core.decisions import HedgeDesk
from hedger.core.events import HedgeOrderCancelled, HedgeOrderRecorded
from hedger.core.option_orders import OptionHedger


class OrderRegistry:
    def __init__(
        self,
        working: dict[str, WorkingOrder],
        known: set[str],
        holding: Callable[[str, str], Holding],
        desk: HedgeDesk,
        options: OptionHedger,
    ) -> None:
        self._working = working
        self._known = known
        self._holding = holding
        self._desk = desk
        self._options = options

    def register(self, actions: list[Action]) -> list[Action]:
        """Count the share orders among `actions` as working (option orders already are)."""
        for action in actions:
            if isinstance(action, SubmitHedgeOrder) and action.order_id not in self._known:
                self._known.add(action.order_id)
                if action.order_id not in self._options.working:
                    signed_qty = action.side.sign * action.qty
                    self._work(action.order_id, action.book, action.symbol, signed_qty, action)
        return actions

    def _work(
        self,
        order_id: str,
        book: str,
        symbol: str,
        signed_qty: float,
        order: SubmitHedgeOrder | HedgeOrderRecorded,
    ) -> None:
        self._working[order_id] = WorkingOrder(
            book, symbol, signed_qty, order.ref_price, order.ts_ns
        )
        holding = self._holding(book, symbol)
        holding.working_shares += signed_qty
        holding.last_order_ts_ns = order.ts_ns

    def recorded(self, order: HedgeOrderRecorded) -> list[Action]:
        """An order read back from the order topic on a restart: working again, and it counts
        toward the rate limits, the notional caps and the flip-flop latch as when it was
        sent."""
        if order.order_id in self._known:
            return []
        self._known.add(order.order_id)
        signed_qty = order.side.sign * order.qty
        if self._options.register(
            order.order_id, order.book, order.symbol, signed_qty, order.ts_ns
        ):
            premium = order.qty * order.ref_price * self._desk.config.default_multiplier
            self._options.sent(order.book, premium, order.ts_ns)
            return []
        self._work(order.order_id, order.book, order.symbol, signed_qty, order)
        notional = order.qty * order.ref_price
        setup = self._desk.setup(order.book)
        self._desk.sent(order.book, order.symbol, order.side, order.ts_ns, setup, notional)
        return []

    def cancelled(self, cancel: HedgeOrderCancelled) -> list[Action]:
        """A cancel read back on a restart; a timeout counts toward the timeout latch."""
        self._known.add(cancel.order_id)
        self._forget(cancel.order_id)
        if cancel.reason == "timeout":
            self._desk.timeout_latch.timed_out(cancel.book, cancel.ts_ns)
        return []

    def _forget(self, order_id: str) -> tuple[str, str] | None:
        """Stop counting a working order; its (book, symbol), or None when not working."""
        order = self._working.pop(order_id, None)
        if order is not None:
            self._holding(order.book, order.symbol).working_shares -= order.remaining
            return order.book, order.symbol
        option = self._options.working.pop(order_id, None)
        return None if option is None else (option.book, option.contract.occ_symbol)

    def cancel_in_scope(self, scope: str, ts_ns: int, reason: str) -> list[Action]:
        """Cancel every order working for `scope`'s book (every book for "*")."""
        books = {order_id: order.book for order_id, order in self._working.items()}
        books.update((order_id, o.book) for order_id, o in self._options.working.items())
        actions: list[Action] = []
        for order_id in [o for o, book in books.items() if scope in (ALL_BOOKS, book)]:
            book, symbol = self._forget(order_id) or ("", "")
            actions.append(CancelHedgeOrder(order_id, book, symbol, ts_ns, reason))
        return actions

    def expire(self, ts_ns: int, timeout_ns: int) -> list[Action]:
        """Cancel every order working for `timeout_ns` or longer (0: never)."""
        if timeout_ns == 0:
            return []
        sent = {order_id: order.ts_ns for order_id, order in self._working.items()}
        sent.update((order_id, o.ts_ns) for order_id, o in self._options.working.items())
        actions: list[Action] = []
        latch = self._desk.timeout_latch
        for order_id in [order_id for order_id, t in sent.items() if ts_ns - t >= timeout_ns]:
            book, symbol = self._forget(order_id) or ("", "")
            actions.append(CancelHedgeOrder(order_id, book, symbol, ts_ns, "timeout"))
            latch.timed_out(book, ts_ns)
        latched = self._desk.controls.switches.latched
        for book in sorted({a.book for a in actions if isinstance(a, CancelHedgeOrder)}):
            if latch.trips(book) and book not in latched:
                detail = (
                    f"{latch.unfilled(book)} working-order timeouts without a hedge fill"
                    f" (HEDGER_TIMEOUT_LATCH={latch.limit})"
                )
                actions.append(self._desk.latch(book, ts_ns, detail))
        return actions
