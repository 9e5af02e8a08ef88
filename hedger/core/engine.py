"""The hedge engine: the one stateful, sans-I/O heart of the hedger.

`HedgeEngine.handle(event) -> list[Action]` does no I/O and never reads a clock; the live
service and the backtest drive the same object. This module owns the state machine: fills
change positions, ticks and vols revalue an underlying, and after each change the policy
decides per book whether to send a hedge order (the decision path, with its throttle and
pre-trade controls, is `hedger.core.decisions`). Timers drive timed rebalancing, gamma/vega
plans and working-order timeouts; control events set kill switches and latches. Until
`RecoveryCompleted` arrives the engine only rebuilds state and sends nothing; then it
decides every book once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from hedger.core.actions import Action, InputRejected, LatchBook
from hedger.core.book import FILLED_EPSILON, Holding, WorkingOrder
from hedger.core.controls import BookLimits, ControlLimits, ControlState, KillMode
from hedger.core.decisions import BookSetup, HedgeDesk
from hedger.core.events import (
    BookLatched,
    BookRearmed,
    Event,
    FeedTiming,
    FillReport,
    HedgeOrderCancelled,
    HedgeOrderRecorded,
    KillSwitchSet,
    OptionQuote,
    PriceTick,
    QuoteCrossed,
    RecoveryCompleted,
    Side,
    TimerFired,
    VolUpdate,
)
from hedger.core.expiry_marks import ExpiryCalendar
from hedger.core.instruments import (
    OptionContract,
    expiry_instant_ns,
    parse_instrument,
    parse_occ,
)
from hedger.core.market import MarketState
from hedger.core.option_orders import OptionHedger
from hedger.core.orders import OrderRegistry
from hedger.core.plausibility import PlausibilityLimits, implausible
from hedger.core.pnl_attribution import PnlAttribution
from hedger.core.policy import BandPolicy
from hedger.core.revaluation import Revaluation
from hedger.core.risk import OptionColumns
from hedger.core.scenarios import ScenarioGrid, Shocks
from hedger.core.tick_runs import TickRuns, tick_trigger
from hedger.core.triggers import DecisionTriggers
from hedger.core.valuation import EngineValuation

# The inputs from feeds and venues, held to the plausibility limits before any state.
_CHECKED_INPUTS = (PriceTick, VolUpdate, OptionQuote, FillReport)
# What `HedgeEngine._wire` makes: views of the state, not state (left out of snapshots).
_WIRED = ("_orders", "_triggers", "_tick_runs", "_handlers")
# A fill's terms, its id and time aside: (book, instrument, side, qty, price, order_id, fee,
# multiplier). Tuples: a million of them pickle and load many times faster than as objects.
FillTerms = tuple[str, str, Side, float, float, str | None, float | None, float | None]


def _fill_terms(fill: FillReport) -> FillTerms:
    return (
        fill.book,
        fill.instrument,
        fill.side,
        fill.qty,
        fill.price,
        fill.order_id,
        fill.fee,
        fill.multiplier,
    )


def _fill_columns(seen: dict[str, FillTerms]) -> tuple[list[str], list[list[Any]]]:
    """A book's fill ids and their terms as columns, for a snapshot (`__getstate__`)."""
    terms = list(seen.values())  # never empty: a book's ids are kept from its first fill on
    return list(seen), [[term[column] for term in terms] for column in range(len(terms[0]))]


def _fills_from_columns(ids: list[str], columns: list[list[Any]]) -> dict[str, FillTerms]:
    return dict(zip(ids, zip(*columns, strict=True), strict=True))


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """`policy` and `limits` apply to every book without its own entry in `books`."""

    policy: BandPolicy
    rate: float = 0.0
    dividend_yield: float = 0.0
    default_vol: float = 0.20
    default_multiplier: float = 100.0
    commission_per_share: float = 0.0
    expiry_time: dt.time = dt.time(16, 0)
    expiry_timezone: str = "America/New_York"
    underlyings: frozenset[str] = field(default_factory=frozenset)
    limits: BookLimits = field(default_factory=BookLimits)
    books: tuple[tuple[str, BookSetup], ...] = ()
    controls: ControlLimits = field(default_factory=ControlLimits)
    # Pricing (hedger.core.revaluation): exercise style and carry per underlying, day count.
    american_underlyings: frozenset[str] = field(default_factory=frozenset)
    futures_underlyings: frozenset[str] = field(default_factory=frozenset)
    # Options on these settle in cash at expiry; on the rest, in shares (revaluation).
    cash_settled_underlyings: frozenset[str] = field(default_factory=frozenset)
    days_per_year: float = 365.0
    scenario_shocks: Shocks = field(default_factory=Shocks)
    plausibility: PlausibilityLimits = field(default_factory=PlausibilityLimits)
    # The event-time grid of P&L valuations (hedger.core.pnl_attribution).
    pnl_interval_ns: int = 300 * 1_000_000_000
    # The event-time grid of timer events (hedger.core.clock), live and in a backtest.
    timer_interval_ns: int = 1_000_000_000

    def __post_init__(self) -> None:
        if self.pnl_interval_ns <= 0:
            raise ValueError("the P&L valuation interval must be positive")
        if self.timer_interval_ns <= 0:
            raise ValueError("the timer interval must be positive")


@dataclass(frozen=True, slots=True)
class Exposure:
    """A book's risk and hedging cost in one underlying; units in docs/reference/units.md."""

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
    mark: float = float("nan")  # the underlying's last mark
    option_value: float = 0.0
    rho: float = 0.0
    vanna: float = 0.0
    volga: float = 0.0
    charm: float = 0.0
    settled_value: float = 0.0  # intrinsic value of the options settled at expiry so far
    # The policy's no-trade zone now: net delta may lie in [target_low − band,
    # target_high + band] (shares) without a trade; NaN where the band needs a mark.
    target_low: float = 0.0
    target_high: float = 0.0
    band: float = float("nan")

    @property
    def hedging_cost(self) -> float:
        return self.fees + self.slippage

    @property
    def delta_notional(self) -> float:
        """Net delta in currency: shares × the underlying's mark."""
        return self.delta * self.mark

    @property
    def gamma_per_percent(self) -> float:
        """Change of delta, in shares, for a 1% move of the underlying."""
        return self.gamma * self.mark * 0.01


class HedgeEngine:
    def __init__(
        self,
        config: EngineConfig,
        market: MarketState | None = None,
        controls: ControlState | None = None,
    ) -> None:
        """`market` and `controls` carry market and control state over a rebuild of books."""
        self.config = config
        self._expiry_zone = ZoneInfo(config.expiry_timezone)
        calendar = ExpiryCalendar(config.expiry_time, self._expiry_zone)
        self.market = market if market is not None else MarketState(calendar)
        self.controls = controls if controls is not None else ControlState(config.controls)
        self.live = False
        self._options: dict[str, OptionColumns] = {}
        self._holdings: dict[tuple[str, str], Holding] = {}
        # The books holding each underlying, in the holdings' order: asked on every tick.
        self._books_of: dict[str, list[str]] = {}
        self._working: dict[str, WorkingOrder] = {}
        self._known_orders: set[str] = set()
        # Each book's fill ids and their terms (`_fill_terms`): a redelivery has no effect,
        # other terms under an id the book has seen are a data error (`_repeated_fill`).
        # Ids are the book's own: the fill topic is keyed by book, so a book's fills are one
        # partition in offset order, and that order alone must decide what it holds. Which
        # of two partitions is read first differs live, on a rebuild and between instances
        # owning other books, so the same id in another book is another fill.
        self._seen_fills: dict[str, dict[str, FillTerms]] = {}
        self.pnl = PnlAttribution(config, self.market, self._holdings)
        self.revaluation = Revaluation(config, self.market, self._options, self._holdings, self.pnl)
        valuation = EngineValuation(config, self.market, self.revaluation, self._holdings)
        self.desk = HedgeDesk(config, self.controls, self._known_orders, valuation)
        self.option_hedger = OptionHedger(config, self.desk)
        self._acted_on_tick = False
        self._wire()

    def _wire(self) -> None:
        """The parts that hold no state of their own, only the engine's (and its methods):
        made anew when a snapshot is restored (`__setstate__`) rather than stored with it."""
        self._orders = OrderRegistry(
            self._working, self._known_orders, self._holding, self.desk, self.option_hedger
        )
        self._triggers = DecisionTriggers(
            self.config, self.market, self._holdings, self.desk, self.option_hedger, self._orders
        )
        self._tick_runs = TickRuns(
            self.market,
            self.controls.guard,
            self.revaluation,
            self._holdings,
            self.desk,
            self.option_hedger,
            self._books_holding,
            lambda: self.live,
            self.config.plausibility.max_price,
        )
        self._handlers: dict[type[Any], Callable[[Any], list[Action]]] = {
            PriceTick: self._on_tick,
            FillReport: self._on_fill_with_options,
            VolUpdate: self._on_vol,
            OptionQuote: self._on_quote,
            HedgeOrderRecorded: self._orders.recorded,
            HedgeOrderCancelled: self._orders.cancelled,
            RecoveryCompleted: self._on_recovered,
            TimerFired: self._on_timer,
            QuoteCrossed: self.desk.apply_control,
            FeedTiming: self.desk.apply_control,
            KillSwitchSet: self._on_kill_switch,
            BookLatched: self.desk.apply_control,
            BookRearmed: self.desk.apply_control,
        }

    def __getstate__(self) -> dict[str, Any]:
        """The engine's state, for a book-state snapshot (`hedger.engine_snapshot`): what
        `_wire` makes is left out, as it refers to the engine's methods, not to data. The
        fills seen, as many as every fill in history, go as columns per book: pickled and
        loaded several times faster than as rows, and compressed to a third."""
        state = dict(vars(self))
        for wired in _WIRED:
            del state[wired]
        seen = state.pop("_seen_fills")
        state["_seen_fill_columns"] = {book: _fill_columns(fills) for book, fills in seen.items()}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        by_book = state.pop("_seen_fill_columns")
        state["_seen_fills"] = {
            book: _fills_from_columns(*columns) for book, columns in by_book.items()
        }
        vars(self).update(state)
        self._wire()

    def handle(self, event: Event) -> list[Action]:
        """Apply one input and return what it calls for, in order: the engine's one entry.

        Inputs (`hedger.core.events`): ticks, vol updates and option quotes; fills; the
        hedge orders and cancels read back from the order topic; control records (kill
        switches, latches, re-arms, crossed quotes, feed timing); timers; and the marker
        that recovery is complete, after which the engine is live and decides. Actions
        (`hedger.core.actions`): hedge orders, cancels, refusals, latches and rejected
        inputs, for the shell to send or count. Pure and deterministic: the same inputs in
        the same order give the same actions, order ids included, live, replayed or in the
        backtest. An implausible input (a price, vol or fill size no feed can mean, a book
        not configured) changes nothing and comes back as one `InputRejected`. Raises
        `TypeError` for an object that is not an input."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"not an engine event: {event!r}")
        if isinstance(event, _CHECKED_INPUTS):
            self.pnl.before_event(event.ts_ns)
            refusal = implausible(event, self.config.plausibility)
            if refusal is not None:
                return [refusal]
        return handler(event)

    def handle_ticks(
        self, ticks: Sequence[PriceTick], start: int = 0, stop: int | None = None
    ) -> tuple[int, list[Action]]:
        """`handle` the ticks from ``ticks[start]`` on (one underlying, before ``stop``) up
        to the first that has actions other than a refusal within the minimum interval;
        return the index after it (``stop`` when none has) and the actions of the ticks
        handled, in order.

        Exactly what calling `handle` on each in turn does, faster: the ticks before it
        that only move the market, or are refused as too soon after the last order, are
        taken in one pass (`hedger.core.tick_runs`).
        """
        end = len(ticks) if stop is None else stop
        index = start
        refusals: list[Action] = []
        # The tick a P&L valuation is due at is handled on its own, so the valuation sees
        # the state before it: the pass stops there (None: the first event is valued).
        valuation_ns = self.pnl.next_valuation_ns
        # After a tick with actions the next likely has some too (a book outside its band
        # whose orders are refused for other reasons than the interval): not worth looking
        # ahead then.
        if (
            valuation_ns is not None
            and self._rejected_symbol(ticks[start].symbol) is None
            and not self._acted_on_tick
        ):
            index, refusals = self._tick_runs.pass_steady(ticks, start, end, valuation_ns)
        if index > start:
            # The P&L notes each event's time as `handle` does; the pass stops before a
            # valuation is due, and its ticks are in time order: the newest is the last.
            self.pnl.before_event(ticks[index - 1].ts_ns)
        if index == end:  # the whole run was steady
            self._acted_on_tick = False
            return end, refusals
        actions = self.handle(ticks[index])
        self._acted_on_tick = bool(actions)
        return index + 1, refusals + actions

    def books(self) -> set[str]:
        """Every book holding something, in any underlying."""
        return {book for book, _ in self._holdings}

    def exposures(self) -> Iterator[Exposure]:
        for (book, underlying), holding in self._holdings.items():
            tick = self.market.ticks.get(underlying)
            mark, ts_ns = (tick.mark, tick.ts_ns) if tick is not None else (float("nan"), 0)
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
                mark,
                holding.option_value,
                *self.revaluation.second_order(book, underlying),
                self.revaluation.settled_value.get((book, underlying), 0.0),
                *self.desk.no_trade_zone(book, holding, mark, ts_ns),
            )

    def scenario_grids(self) -> dict[str, ScenarioGrid]:
        """Each underlying's scenario grid (`config.scenario_shocks`) at its last mark."""
        return self.revaluation.scenario_grids(self.config.scenario_shocks)

    def positions(self) -> dict[tuple[str, str], float]:
        """What each book holds, by (book, instrument): shares of an underlying, and units
        (contracts × multiplier, signed) of an option by its OCC symbol; nothing at zero."""
        held = {key: holding.shares for key, holding in self._holdings.items() if holding.shares}
        for columns in self._options.values():
            held.update((key, units) for key, units in columns.positions().items() if units)
        return held

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
        # The guard sees the tick before any decision on it: a jump freezes at once.
        self.controls.guard.observe(tick.symbol, tick.ts_ns, tick.mark)
        # Accepted, it may reach expiry instants: their options settle as it is revalued.
        if not self.market.accept_tick(tick):
            return []
        trigger = tick_trigger(tick.symbol, tick.ts_ns)
        return self._revalue_and_hedge(tick.symbol, tick.ts_ns, trigger)

    def _on_vol(self, update: VolUpdate) -> list[Action]:
        rejected = self._rejected_symbol(update.symbol)
        if rejected is not None:
            return rejected
        refusal = self.revaluation.accept_vol(update)
        if refusal is not None:
            return [refusal]
        trigger = f"vol:{update.symbol}:{update.ts_ns}"
        return self._revalue_and_hedge(update.symbol, update.ts_ns, trigger)

    def _seen_terms(self, fill: FillReport) -> FillTerms | None:
        """The terms its book booked this fill's id with, if it did."""
        seen = self._seen_fills.get(fill.book)
        return None if seen is None else seen.get(fill.fill_id)

    def _on_fill(self, fill: FillReport) -> list[Action]:
        terms = self._seen_terms(fill)
        if terms is not None:
            return self._repeated_fill(fill, terms)
        instrument = parse_instrument(fill.instrument, fill.ts_ns)
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
        self._seen_fills.setdefault(fill.book, {})[fill.fill_id] = _fill_terms(fill)
        actions = self._revalue_and_hedge(underlying, fill.ts_ns, f"fill:{fill.fill_id}", fill.book)
        if isinstance(instrument, OptionContract):
            # The new position's Greeks explain the P&L from now on.
            self.pnl.value(fill.ts_ns)
        return actions

    def _repeated_fill(self, fill: FillReport, terms: FillTerms) -> list[Action]:
        """Nothing for a redelivered fill (`terms`: those its id was booked with). Other
        terms under an id the book has booked mean the book can no longer be trusted to
        match the venue's: refused, and the book latched, failing closed until a person
        re-arms it. Latched at once when live; while rebuilding, the control topic holds
        the latch."""
        if terms == _fill_terms(fill):
            return []
        first = FillReport(fill.fill_id, *terms[:5], fill.ts_ns, *terms[5:])
        detail = (
            f"fill_id {fill.fill_id!r} seen before with other terms in {fill.book}: "
            f"{first.side.value} {first.qty:g} {first.instrument} @ {first.price:g}, now "
            f"{fill.side.value} {fill.qty:g} {fill.instrument} @ {fill.price:g}"
        )
        if self.live:
            self.controls.switches.latched[fill.book] = detail
        return [InputRejected("conflicting_fill", detail), LatchBook(fill.book, fill.ts_ns, detail)]

    def _book_option(self, fill: FillReport, contract: OptionContract) -> InputRejected | None:
        expiry_ns = expiry_instant_ns(contract.expiry, self.config.expiry_time, self._expiry_zone)
        if expiry_ns <= fill.ts_ns:
            return InputRejected("expired_option", f"{fill.instrument!r} expired before the fill")
        multiplier = fill.multiplier or self.config.default_multiplier
        columns = self.revaluation.columns(contract.root)
        columns.add(
            fill.book,
            contract.occ_symbol,
            contract.strike,
            expiry_ns,
            contract.is_call,
            fill.side.sign * fill.qty * multiplier,
        )
        holding = self._holding(fill.book, contract.root)
        holding.cash -= fill.side.sign * fill.qty * multiplier * fill.price
        holding.horizon_ns = max(holding.horizon_ns, expiry_ns)
        # Read after a tick past its expiry, it settles as soon as it is revalued, at the
        # mark its expiry settled at, as though read in time (`hedger.core.expiry_marks`).
        return None

    def _book_shares(self, fill: FillReport, symbol: str) -> None:
        holding = self._holding(fill.book, symbol)
        signed = fill.side.sign * fill.qty
        tick = self.market.ticks.get(symbol)
        mark = tick.mark if tick is not None else fill.price
        holding.move_shares(signed, mark)
        holding.cash -= signed * fill.price
        holding.trade_costs += signed * (fill.price - mark)
        if fill.order_id in self._known_orders:  # working or not: rebuilt in any order
            self.desk.timeout_latch.filled(fill.book, fill.ts_ns)
        order = self._working.get(fill.order_id) if fill.order_id else None
        if order is None or order.book != fill.book or order.symbol != symbol:
            return
        fee = fill.fee if fill.fee is not None else self.config.commission_per_share * fill.qty
        holding.fees += fee
        holding.trade_costs += fee
        holding.slippage += fill.side.sign * (fill.price - order.ref_price) * fill.qty
        holding.hedge_fills += 1
        self._reduce_working(fill.order_id, holding, fill.side.sign * fill.qty)

    def _reduce_working(self, order_id: str | None, holding: Holding, signed_qty: float) -> None:
        order = self._working[order_id or ""]
        # An over-fill closes the order; the excess is already in `shares`.
        filled = signed_qty if abs(signed_qty) < abs(order.remaining) else order.remaining
        order.remaining -= filled
        holding.working_shares -= filled
        if abs(order.remaining) < FILLED_EPSILON:
            holding.working_shares -= order.remaining
            del self._working[order_id or ""]

    def _holding(self, book: str, symbol: str) -> Holding:
        holding = self._holdings.get((book, symbol))
        if holding is None:
            holding = self._holdings[(book, symbol)] = Holding()
            self._books_of.setdefault(symbol, []).append(book)
        return holding

    def _revalue_and_hedge(
        self, symbol: str, ts_ns: int, trigger: str, only_book: str | None = None
    ) -> list[Action]:
        tick = self.market.ticks.get(symbol)
        if tick is None:
            return []
        # Valued, and an order stamped, at the time of the newest input behind it: a fill
        # read after later ticks is valued and hedged at the market of those ticks, so the
        # Greeks never go back in time and do not depend on the order inputs arrived in.
        decided_ns = ts_ns if ts_ns > tick.ts_ns else tick.ts_ns
        self.revaluation.revalue(symbol, tick.mark, decided_ns)
        if not self.live:
            return []
        books = [only_book] if only_book else self._books_holding(symbol)
        actions: list[Action] = []
        for book in books:
            actions += self._triggers.decide(book, symbol, tick.mark, decided_ns, trigger)
        return actions

    def _books_holding(self, symbol: str) -> list[str]:
        return self._books_of.get(symbol, [])

    def _on_quote(self, quote: OptionQuote) -> list[Action]:
        # The codec lets only OCC symbols through.
        underlying = parse_occ(quote.symbol, quote.ts_ns).root
        rejected = self._rejected_symbol(underlying)
        if rejected is not None:
            return rejected
        refusal = self.revaluation.accept_quote(quote)
        if refusal is not None:
            return [refusal]
        trigger = f"quote:{quote.symbol.replace(' ', '')}:{quote.ts_ns}"
        return self._revalue_and_hedge(underlying, quote.ts_ns, trigger)

    def _on_kill_switch(self, switch: KillSwitchSet) -> list[Action]:
        """Set or release the switch; engaging it live in `stop` mode also cancels the orders
        working in its scope (while rebuilding, the cancels sent then are read back instead).
        In `reduce_only` mode working orders stay: they were sized to bring delta in."""
        actions = self.desk.apply_control(switch)
        stopping = self.config.controls.kill_mode is KillMode.STOP
        if switch.engaged and self.live and stopping:
            actions += self._orders.cancel_in_scope(switch.scope, switch.ts_ns, "kill_switch")
        return actions

    def _on_timer(self, timer: TimerFired) -> list[Action]:
        return self._triggers.on_timer(timer.ts_ns) if self.live else []

    def _on_fill_with_options(self, fill: FillReport) -> list[Action]:
        # A fill of one of our option orders stops counting as working before the decision
        # it triggers, so its delta is not counted twice.
        if self._seen_terms(fill) is None:
            self.option_hedger.filled(fill, self._holding)
        return self._on_fill(fill)

    def _on_recovered(self, _: RecoveryCompleted) -> list[Action]:
        """Live from now on, and every book decided once on the state rebuilt: a fill that
        arrived while the service was down (or was booked but not yet decided when it
        stopped) is hedged now, not at the next tick of its underlying."""
        self.live = True
        actions: list[Action] = []
        for symbol in list(self._books_of):
            tick = self.market.ticks.get(symbol)
            if tick is not None:
                trigger = f"rebuilt:{symbol}:{tick.ts_ns}"
                actions += self._revalue_and_hedge(symbol, tick.ts_ns, trigger)
        return actions
