"""The decision path: what a book's policy wants in an underlying, then the throttle and the
pre-trade controls; an order, or a refusal (`HedgeDenied`) naming its reason.

Checks run in this order, and the first that fails names the refusal: minimum interval,
lot size and minimum quantity, kill switch and latch, price guard (stale feed, frozen
price), loss limit, order size, order notional, position, price collar, rate limits
(book, then all books), flip-flop latch. Every check fails closed.

A refusal is an action for every decision it stops (so metrics count them all), marked
`new_episode` only for the first of a run with the same book, underlying and reason; the
run ends when an order leaves or the book is back inside its band.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from hedger.core.actions import Action, HedgeDenied, LatchBook, SubmitHedgeOrder
from hedger.core.book import Holding
from hedger.core.controls import (
    BookLimits,
    ControlState,
    OrderCheck,
    OrderType,
    Refusal,
    collar_refusal,
    limit_refusal,
    switch_refusal,
)
from hedger.core.events import BookRearmed, ControlEvent, FeedTiming, QuoteCrossed, Side
from hedger.core.instruments import NANOS_PER_YEAR, OptionContract
from hedger.core.latch import FlipFlop
from hedger.core.notional_cap import NotionalCaps
from hedger.core.option_hedge import GammaVegaPolicy
from hedger.core.policy import (
    BandInputs,
    BandPolicy,
    BandWidth,
    beyond_band,
    leland_volatility,
)
from hedger.core.risk import BookGreeks
from hedger.core.throttle import Throttle
from hedger.core.timeout_latch import TimeoutLatch

if TYPE_CHECKING:
    from hedger.core.engine import EngineConfig


def derive_order_id(book: str, symbol: str, trigger: str) -> str:
    """Same book, instrument and triggering input give the same id, so replays cannot double up."""
    digest = hashlib.blake2b(f"{book}|{symbol}|{trigger}".encode(), digest_size=10)
    return "H-" + digest.hexdigest()


@dataclass(frozen=True, slots=True)
class BookSetup:
    """How one book hedges: its policy, its limits and, optionally, gamma/vega hedging per
    underlying (keyed by underlying)."""

    policy: BandPolicy
    limits: BookLimits = field(default_factory=BookLimits)
    gamma_vega: tuple[tuple[str, GammaVegaPolicy], ...] = ()


class BookValuation(Protocol):
    """What the decision path asks the engine about a book."""

    def book_pnl(self, book: str) -> float: ...

    def option_delta_with(
        self, book: str, symbol: str, ts_ns: int, adjust: Callable[[float], float]
    ) -> float: ...

    def contract_greeks(
        self, symbol: str, contracts: list[OptionContract], spot: float, ts_ns: int
    ) -> BookGreeks: ...


# Not frozen: built for every book on every tick, and a frozen dataclass's __init__ costs
# several times more. Never changed after construction.
@dataclass(slots=True)
class Situation:
    """One book's holding in one underlying at a decision, and what triggered it."""

    book: str
    symbol: str
    holding: Holding
    mark: float
    ts_ns: int
    trigger: str
    reason: str  # "band", "rebalance" or "gamma_vega"


class HedgeDesk:
    """Decides for every book; owns the throttle, latch memory and refusal episodes."""

    def __init__(
        self,
        config: EngineConfig,
        controls: ControlState,
        known_orders: set[str],
        valuation: BookValuation,
    ) -> None:
        self.config = config
        self.controls = controls
        self.default = BookSetup(config.policy, config.limits)
        self.setups = dict(config.books)
        limits = config.controls
        self.throttle = Throttle(limits.total_rate)
        self.notional_caps = NotionalCaps(limits.total_notional_per_minute)
        self.flip_flop = FlipFlop(
            limits.latch_reversals, limits.latch_window_ns, controls.rearm_cutoffs
        )
        self.timeout_latch = TimeoutLatch(limits.timeout_latch, controls.timeout_cutoffs)
        self._known = known_orders
        self.valuation = valuation
        self._refusing: dict[tuple[str, str], str] = {}
        self._rebalanced_ns: dict[tuple[str, str], int] = {}
        # Per book: its setup and that setup's fixed band (None: not fixed).
        self._fixed_bands: dict[str, tuple[BookSetup, tuple[float, float, float] | None]] = {}

    def setup(self, book: str) -> BookSetup:
        return self.setups.get(book, self.default)

    def apply_control(self, event: ControlEvent | QuoteCrossed | FeedTiming) -> list[Action]:
        """Kill switches, latches and re-arms from the control topic; crossed quotes and
        the wall-clock timing of feeds, from the shell."""
        if isinstance(event, QuoteCrossed):
            self.controls.guard.crossed(event.symbol, event.ts_ns)
            return []
        if isinstance(event, FeedTiming):
            self.controls.guard.timing(event.symbol, event.problem, event.detail)
            return []
        self.controls.switches.apply(event)
        if isinstance(event, BookRearmed):
            self.flip_flop.forget(event.book)
            self.timeout_latch.forget(event.book)
        return []

    def rebalance_due(self, book: str, symbol: str, ts_ns: int) -> bool:
        """True when a timer at `ts_ns` starts a new rebalancing interval of a timed policy
        (intervals are aligned on multiples of the interval in event time)."""
        every_ns = self.setup(book).policy.rebalance_every_ns
        if every_ns == 0:
            return False
        last = self._rebalanced_ns.get((book, symbol))
        if last is not None and ts_ns // every_ns <= last // every_ns:
            return False
        self._rebalanced_ns[(book, symbol)] = ts_ns
        return True

    def decide(self, situation: Situation, extra_delta: float = 0.0) -> list[Action]:
        """The share order (or refusal) for one book and underlying; `extra_delta` is delta
        on its way that the holding does not show yet (working option orders, a plan)."""
        setup = self.setup(situation.book)
        policy = setup.policy
        if policy.timed and situation.reason == "band":
            return []  # a timed policy trades on its timers only
        net_delta = self._net_delta(situation, policy) + extra_delta
        goal = policy.goal(
            net_delta, self._band(policy, situation.holding, situation.mark, situation.ts_ns)
        )
        if goal is None:
            self.back_inside_band(situation.book, situation.symbol)
            return []
        wanted = goal - net_delta
        too_soon = self.too_soon(situation, policy)
        if too_soon is not None:
            return [too_soon]
        quantity = policy.whole_lots(wanted)
        if quantity == 0.0 or abs(quantity) < policy.min_order_shares:
            detail = f"{wanted:,.2f} shares is under a lot or the minimum order"
            return [self.deny(situation, "below_minimum", detail)]
        return self._order(situation, setup, quantity, net_delta, goal)

    def too_soon(self, situation: Situation, policy: BandPolicy) -> HedgeDenied | None:
        """The refusal of an order wanted within the policy's minimum interval of the
        book's last one, if it is."""
        last_ns = situation.holding.last_order_ts_ns
        if last_ns is None or situation.ts_ns - last_ns >= policy.min_interval_ns:
            return None
        waited = (situation.ts_ns - last_ns) / 1e9
        return self.deny(situation, "min_interval", f"last order {waited:.3f} s ago")

    def inside_fixed_band(self, book: str, symbol: str, holding: Holding) -> bool:
        """True when `decide` on a band trigger would find the book inside a fixed band
        (`BandPolicy.fixed_band`) with nothing on its way: the common case on every tick,
        answered without building the decision (and ending a refusal episode as it does)."""
        setup = self.setups.get(book, self.default)
        cached = self._fixed_bands.get(book)
        if cached is None or cached[0] is not setup:
            cached = self._fixed_bands[book] = (setup, setup.policy.fixed_band)
        fixed = cached[1]
        if fixed is None:
            return False
        low, high, band = fixed
        if beyond_band(holding.delta_with_working, low, high, band):
            return False
        self.back_inside_band(book, symbol)
        return True

    def back_inside_band(self, book: str, symbol: str) -> None:
        """The book's net delta is inside its band: an episode of refusals ends."""
        if self._refusing:
            self._refusing.pop((book, symbol), None)

    def _net_delta(self, situation: Situation, policy: BandPolicy) -> float:
        holding = situation.holding
        if policy.leland_cost == 0.0 or holding.option_gamma == 0.0:
            return holding.delta_with_working
        cost, years, gamma = policy.leland_cost, policy.leland_interval_years, holding.option_gamma
        option_delta = self.valuation.option_delta_with(
            situation.book,
            situation.symbol,
            situation.ts_ns,
            lambda vol: leland_volatility(vol, cost, years, gamma),
        )
        return option_delta + holding.shares + holding.working_shares

    def no_trade_zone(
        self, book: str, holding: Holding, mark: float, ts_ns: int
    ) -> tuple[float, float, float]:
        """(low, high, H): the book's target range and its band's half-width at `mark` and
        `ts_ns`; its net delta may stray to [low − H, high + H] without a trade."""
        policy = self.setup(book).policy
        return (*policy.target_range, self._band(policy, holding, mark, ts_ns))

    def _band(self, policy: BandPolicy, holding: Holding, mark: float, ts_ns: int) -> float:
        if policy.width is BandWidth.SHARES:
            return policy.band_shares  # the common case, on every tick: no inputs to build
        years = (holding.horizon_ns - ts_ns) / NANOS_PER_YEAR
        return policy.band(BandInputs(mark, holding.option_gamma, self.config.rate, years))

    def _order(
        self, situation: Situation, setup: BookSetup, quantity: float, net_delta: float, goal: float
    ) -> list[Action]:
        book, symbol, ts_ns = situation.book, situation.symbol, situation.ts_ns
        limit_price = self._limit_price(situation.mark, quantity)
        check = OrderCheck(
            book=book,
            symbol=symbol,
            quantity=quantity,
            price=situation.mark if limit_price is None else limit_price,
            net_delta=net_delta,
            hedge_position=situation.holding.shares + situation.holding.working_shares,
            book_pnl=self.book_pnl(book, setup),
        )
        notional = abs(quantity) * situation.mark
        refusal = (
            self.pretrade_refusal(check, setup, ts_ns)
            or self.throttle.refusal(book, setup.limits.rate, ts_ns)
            or self.notional_caps.refusal(
                book, setup.limits.max_notional_per_minute, notional, ts_ns
            )
        )
        if refusal is not None:
            return [self.deny(situation, *refusal)]
        order_id = derive_order_id(book, symbol, situation.trigger)
        if order_id in self._known:
            return []  # a replayed input: its order is out already
        side = Side.of(quantity)
        # Last: only an order that would really leave counts as a reversal.
        if self.flip_flop.trips(book, symbol, side, ts_ns):
            return self._latch(situation)
        self.sent(book, symbol, side, ts_ns, setup, notional)
        return [
            SubmitHedgeOrder(
                order_id=order_id,
                book=book,
                symbol=symbol,
                side=side,
                qty=abs(quantity),
                ts_ns=ts_ns,
                ref_price=situation.mark,
                reason=situation.reason,
                delta_before=net_delta,
                target_delta=goal,
                policy=setup.policy.name,
                trigger=situation.trigger,
                limit_price=limit_price,
            )
        ]

    def _limit_price(self, mark: float, quantity: float) -> float | None:
        controls = self.config.controls
        if controls.order_type is OrderType.MARKET:
            return None
        # A buy may pay up to the offset above the mark, a sell down to it below.
        return mark * (1.0 + controls.limit_offset * (1.0 if quantity > 0 else -1.0))

    def book_pnl(self, book: str, setup: BookSetup) -> float:
        """Mark-to-model P&L, valued only when a loss limit needs it (it loops over books)."""
        return self.valuation.book_pnl(book) if setup.limits.loss_limit < math.inf else 0.0

    def pretrade_refusal(self, check: OrderCheck, setup: BookSetup, ts_ns: int) -> Refusal | None:
        """The first control that stops the order, before the rate limits and the flip-flop
        latch (which need an order otherwise ready to leave)."""
        controls = self.controls
        return (
            switch_refusal(check, controls.switches, self.config.controls.kill_mode)
            or controls.guard.refusal(check.symbol, ts_ns)
            or limit_refusal(check, setup.limits)
            or collar_refusal(
                check.price,
                controls.guard.last_good_mark(check.symbol),
                controls.guard.collar(check.symbol, ts_ns, self.config.controls.price_collar),
            )
        )

    def sent(
        self, book: str, symbol: str, side: Side, ts_ns: int, setup: BookSetup, notional: float
    ) -> None:
        """Account for an order leaving now, or read back from the order topic; `notional`
        is its shares × the mark it was decided at."""
        self.throttle.take(book, setup.limits.rate, ts_ns)
        self.notional_caps.take(book, notional, ts_ns)
        self.flip_flop.record(book, symbol, side, ts_ns)
        self._refusing.pop((book, symbol), None)

    def _latch(self, situation: Situation) -> list[Action]:
        window_s = self.config.controls.latch_window_ns / 1e9
        detail = (
            f"{self.flip_flop.reversals} direction reversals in {situation.symbol} "
            f"within {window_s:.0f} s"
        )
        return [
            self.deny(situation, "latched", detail),
            self.latch(situation.book, situation.ts_ns, detail),
        ]

    def latch(self, book: str, ts_ns: int, detail: str) -> LatchBook:
        """Stop `book` now; the action records it on the control topic."""
        self.controls.switches.latched[book] = detail
        return LatchBook(book, ts_ns, detail)

    def deny(self, situation: Situation, reason: str, detail: str) -> HedgeDenied:
        key = (situation.book, situation.symbol)
        new_episode = self._refusing.get(key) != reason
        self._refusing[key] = reason
        return HedgeDenied(
            book=situation.book,
            symbol=situation.symbol,
            reason=reason,
            detail=detail,
            ts_ns=situation.ts_ns,
            trigger=situation.trigger,
            policy=self.setup(situation.book).policy.name,
            new_episode=new_episode,
        )
