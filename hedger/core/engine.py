"""The hedge engine: the one stateful, sans-I/O heart of the hedger.

`HedgeEngine.handle(event) -> list[Action]` does no I/O and never reads a clock; the live
service and the backtest drive the same object. This module owns the state machine: fills
change positions, ticks and vols revalue an underlying, and after each change the policy
decides per book whether to send a hedge order. Until `RecoveryCompleted` arrives the
engine only rebuilds state and sends nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from hedger.core.actions import Action, InputRejected, SubmitHedgeOrder
from hedger.core.book import Holding, WorkingOrder
from hedger.core.events import (
    Event,
    FillReport,
    HedgeOrderRecorded,
    PriceTick,
    RecoveryCompleted,
    Side,
    VolUpdate,
)
from hedger.core.instruments import OptionContract, expiry_instant_ns, parse_instrument
from hedger.core.market import MarketState
from hedger.core.policy import BandPolicy
from hedger.core.risk import MarketInputs, OptionColumns

# A working order whose remaining quantity is below this is complete (float dust).
_FILLED_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class EngineConfig:
    policy: BandPolicy
    rate: float = 0.0
    dividend_yield: float = 0.0
    default_vol: float = 0.20
    default_multiplier: float = 100.0
    commission_per_share: float = 0.0
    expiry_time: dt.time = dt.time(16, 0)
    expiry_timezone: str = "America/New_York"
    underlyings: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True, slots=True)
class Exposure:
    """A book's risk and hedging cost in one underlying; units in the README's units table."""

    book: str
    underlying: str
    delta: float
    gamma: float
    vega: float
    theta: float
    shares: float
    working_shares: float
    fees: float
    slippage: float
    hedge_fills: int

    @property
    def hedging_cost(self) -> float:
        return self.fees + self.slippage


def derive_order_id(book: str, symbol: str, trigger: str) -> str:
    """Same book, underlying and triggering input give the same id, so replays cannot double up."""
    digest = hashlib.blake2b(f"{book}|{symbol}|{trigger}".encode(), digest_size=10)
    return "H-" + digest.hexdigest()


class HedgeEngine:
    def __init__(self, config: EngineConfig, market: MarketState | None = None) -> None:
        self.config = config
        self.market = market if market is not None else MarketState()
        self.live = False
        self._expiry_zone = ZoneInfo(config.expiry_timezone)
        self._options: dict[str, OptionColumns] = {}
        self._holdings: dict[tuple[str, str], Holding] = {}
        self._working: dict[str, WorkingOrder] = {}
        self._known_orders: set[str] = set()
        self._seen_fills: set[str] = set()

    def handle(self, event: Event) -> list[Action]:
        if isinstance(event, PriceTick):
            return self._on_tick(event)
        if isinstance(event, FillReport):
            return self._on_fill(event)
        if isinstance(event, VolUpdate):
            return self._on_vol(event)
        if isinstance(event, HedgeOrderRecorded):
            self._on_order_recorded(event)
            return []
        if isinstance(event, RecoveryCompleted):
            self.live = True
            return []
        raise TypeError(f"not an engine event: {event!r}")

    def exposures(self) -> Iterator[Exposure]:
        for (book, underlying), holding in self._holdings.items():
            yield Exposure(
                book,
                underlying,
                holding.delta,
                holding.option_gamma,
                holding.option_vega,
                holding.option_theta,
                holding.shares,
                holding.working_shares,
                holding.fees,
                holding.slippage,
                holding.hedge_fills,
            )

    def working_orders(self) -> dict[str, WorkingOrder]:
        return dict(self._working)

    def _rejected_symbol(self, symbol: str) -> list[Action] | None:
        if self.config.underlyings and symbol not in self.config.underlyings:
            return [
                InputRejected("unknown_instrument", f"{symbol!r} is not a configured underlying")
            ]
        return None

    def _on_tick(self, tick: PriceTick) -> list[Action]:
        rejected = self._rejected_symbol(tick.symbol)
        if rejected is not None:
            return rejected
        if not self.market.accept_tick(tick):
            return []
        return self._revalue_and_hedge(tick.symbol, tick.ts_ns, f"tick:{tick.symbol}:{tick.ts_ns}")

    def _on_vol(self, update: VolUpdate) -> list[Action]:
        rejected = self._rejected_symbol(update.symbol)
        if rejected is not None or not self.market.accept_vol(update):
            return rejected or []
        trigger = f"vol:{update.symbol}:{update.ts_ns}"
        return self._revalue_and_hedge(update.symbol, update.ts_ns, trigger)

    def _on_fill(self, fill: FillReport) -> list[Action]:
        if fill.fill_id in self._seen_fills:
            return []
        instrument = parse_instrument(fill.instrument)
        underlying = instrument if isinstance(instrument, str) else instrument.root
        rejected = self._rejected_symbol(underlying)
        if rejected is not None:
            return rejected
        if isinstance(instrument, OptionContract):
            refusal = self._book_option(fill, instrument)
            if refusal is not None:
                return [refusal]
        else:
            self._book_shares(fill, underlying)
        self._seen_fills.add(fill.fill_id)
        return self._revalue_and_hedge(underlying, fill.ts_ns, f"fill:{fill.fill_id}", fill.book)

    def _book_option(self, fill: FillReport, contract: OptionContract) -> InputRejected | None:
        expiry_ns = expiry_instant_ns(contract.expiry, self.config.expiry_time, self._expiry_zone)
        if expiry_ns <= fill.ts_ns:
            return InputRejected("expired_option", f"{fill.instrument!r} expired before the fill")
        multiplier = fill.multiplier or self.config.default_multiplier
        columns = self._options.setdefault(contract.root, OptionColumns())
        columns.add(
            fill.book,
            contract.occ_symbol,
            contract.strike,
            expiry_ns,
            contract.is_call,
            fill.side.sign * fill.qty * multiplier,
        )
        self._holding(fill.book, contract.root)
        return None

    def _book_shares(self, fill: FillReport, symbol: str) -> None:
        holding = self._holding(fill.book, symbol)
        holding.shares += fill.side.sign * fill.qty
        order = self._working.get(fill.order_id) if fill.order_id else None
        if order is None or order.book != fill.book or order.symbol != symbol:
            return
        fee = fill.fee if fill.fee is not None else self.config.commission_per_share * fill.qty
        holding.fees += fee
        holding.slippage += fill.side.sign * (fill.price - order.ref_price) * fill.qty
        holding.hedge_fills += 1
        self._reduce_working(fill.order_id, holding, fill.side.sign * fill.qty)

    def _reduce_working(self, order_id: str | None, holding: Holding, signed_qty: float) -> None:
        order = self._working[order_id or ""]
        # An over-fill closes the order; the excess is already in `shares`.
        filled = signed_qty if abs(signed_qty) < abs(order.remaining) else order.remaining
        order.remaining -= filled
        holding.working_shares -= filled
        if abs(order.remaining) < _FILLED_EPSILON:
            holding.working_shares -= order.remaining
            del self._working[order_id or ""]

    def _on_order_recorded(self, order: HedgeOrderRecorded) -> None:
        if order.order_id in self._known_orders:
            return
        self._register(
            order.order_id,
            order.book,
            order.symbol,
            order.side.sign * order.qty,
            order.ref_price,
            order.ts_ns,
        )

    def _register(
        self, order_id: str, book: str, symbol: str, signed_qty: float, ref_price: float, ts_ns: int
    ) -> None:
        self._known_orders.add(order_id)
        self._working[order_id] = WorkingOrder(book, symbol, signed_qty, ref_price)
        holding = self._holding(book, symbol)
        holding.working_shares += signed_qty
        holding.last_order_ts_ns = ts_ns

    def _holding(self, book: str, symbol: str) -> Holding:
        return self._holdings.setdefault((book, symbol), Holding())

    def _revalue_and_hedge(
        self, symbol: str, ts_ns: int, trigger: str, only_book: str | None = None
    ) -> list[Action]:
        tick = self.market.ticks.get(symbol)
        if tick is None:
            return []
        self._revalue(symbol, tick.mark, ts_ns)
        if not self.live:
            return []
        books = [only_book] if only_book else self._books_holding(symbol)
        # An order is stamped with the time of the newest input behind it: a fill read after
        # later ticks is hedged at, and timed by, the market it was hedged against.
        decided_ns = max(ts_ns, tick.ts_ns)
        orders = (self._decide(book, symbol, tick.mark, decided_ns, trigger) for book in books)
        return [order for order in orders if order is not None]

    def _books_holding(self, symbol: str) -> list[str]:
        return [book for (book, underlying) in self._holdings if underlying == symbol]

    def _revalue(self, symbol: str, spot: float, ts_ns: int) -> None:
        columns = self._options.get(symbol)
        if columns is None:
            return
        vol = self.market.vols.get(symbol, self.config.default_vol)
        market = MarketInputs(spot, vol, self.config.rate, self.config.dividend_yield, ts_ns)
        greeks = columns.revalue(market)
        for index, book in enumerate(columns.books):
            holding = self._holdings[(book, symbol)]
            holding.option_delta = float(greeks.delta[index])
            holding.option_gamma = float(greeks.gamma[index])
            holding.option_vega = float(greeks.vega[index])
            holding.option_theta = float(greeks.theta[index])

    def _decide(
        self, book: str, symbol: str, mark: float, ts_ns: int, trigger: str
    ) -> SubmitHedgeOrder | None:
        holding = self._holdings[(book, symbol)]
        policy = self.config.policy
        delta_before = holding.delta_with_working
        quantity = policy.hedge_quantity(delta_before, ts_ns, holding.last_order_ts_ns)
        if quantity == 0.0:
            return None
        order_id = derive_order_id(book, symbol, trigger)
        if order_id in self._known_orders:
            return None
        self._register(order_id, book, symbol, quantity, mark, ts_ns)
        return SubmitHedgeOrder(
            order_id=order_id,
            book=book,
            symbol=symbol,
            side=Side.of(quantity),
            qty=abs(quantity),
            ts_ns=ts_ns,
            ref_price=mark,
            reason="band",
            delta_before=delta_before,
            target_delta=policy.target_delta,
            policy=policy.name,
            trigger=trigger,
        )
