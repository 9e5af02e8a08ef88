"""Pre-trade controls: the checks an order passes just before it leaves, each failing closed.

Each check returns `(reason, detail)` when the order may not leave, or None. They are
written so that a NaN anywhere (a P&L, a mark) refuses the order rather than passing it.
The kill switch and the flip-flop latch are state (`Switches`), set from the control topic
and so persistent across restarts; the checks themselves are pure functions.

Reduce-only mode (`KillMode.REDUCE_ONLY`): while a kill switch is engaged, an order still
leaves when it shrinks both the book's net delta and its gross hedge position (shares held
plus working) in that underlying, i.e. it only unwinds. The flip-flop latch is never
reduce-only: a latched book sends nothing until re-armed.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from hedger.core.events import BookLatched, BookRearmed, ControlEvent, KillSwitchSet
from hedger.core.price_guard import GuardLimits, PriceGuard
from hedger.core.throttle import RateLimit

ALL_BOOKS = "*"
Refusal = tuple[str, str]


class KillMode(enum.StrEnum):
    STOP = "stop"
    REDUCE_ONLY = "reduce_only"


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"


@dataclass(frozen=True, slots=True)
class BookLimits:
    """Per-book limits. Share and notional limits apply per underlying; `math.inf` is none."""

    max_order_shares: float = 100_000.0
    max_order_notional: float = 10_000_000.0
    max_position_shares: float = 1_000_000.0
    max_notional_per_minute: float = 50_000_000.0  # of the orders of any 60 s of event time
    loss_limit: float = math.inf
    rate: RateLimit = field(default_factory=lambda: RateLimit(per_minute=60.0, burst=10.0))

    def __post_init__(self) -> None:
        limits = (
            self.max_order_shares,
            self.max_order_notional,
            self.max_position_shares,
            self.max_notional_per_minute,
            self.loss_limit,
        )
        if not all(limit > 0 for limit in limits):
            raise ValueError(f"invalid book limits {self}: every limit must be positive")


@dataclass(frozen=True, slots=True)
class ControlLimits:
    """Controls common to every book."""

    guard: GuardLimits = field(default_factory=GuardLimits)
    total_rate: RateLimit = field(default_factory=lambda: RateLimit(per_minute=300.0, burst=30.0))
    total_notional_per_minute: float = 250_000_000.0
    price_collar: float = 0.05
    order_type: OrderType = OrderType.MARKET
    limit_offset: float = 0.001
    latch_reversals: int = 10
    latch_window_ns: int = 30_000_000_000
    working_order_timeout_ns: int = 0
    timeout_latch: int = 3
    kill_mode: KillMode = KillMode.STOP

    def __post_init__(self) -> None:
        valid = (
            0 < self.price_collar < 1
            and self.total_notional_per_minute > 0
            and 0 <= self.limit_offset < self.price_collar
            and self.latch_reversals >= 1
            and self.latch_window_ns > 0
            and self.working_order_timeout_ns >= 0
            and self.timeout_latch >= 0
        )
        if not valid:
            raise ValueError(f"invalid control limits {self}")


class Switches:
    """Kill switches (per book, or "*" for all) and latched books; set by control events."""

    def __init__(self) -> None:
        self.kill: dict[str, str] = {}
        self.latched: dict[str, str] = {}

    def apply(self, event: ControlEvent) -> None:
        if isinstance(event, KillSwitchSet):
            if event.engaged:
                self.kill[event.scope] = event.by
            else:
                self.kill.pop(event.scope, None)
        elif isinstance(event, BookLatched):
            # The last latch's reason, as on a compacted control topic (see `control_key`).
            self.latched[event.book] = event.detail or "latched"
        elif isinstance(event, BookRearmed):
            self.latched.pop(event.book, None)

    def killed_by(self, book: str) -> str | None:
        """Which switch stops `book` ("*" first), or None."""
        for scope in (ALL_BOOKS, book):
            if scope in self.kill:
                return scope
        return None


class ControlState:
    """The controls' state that outlives a rebuild of book state: switches and price guard."""

    def __init__(self, limits: ControlLimits) -> None:
        self.switches = Switches()
        self.guard = PriceGuard(limits.guard)
        # Per book: the latest order time a re-arm forgave (see hedger.core.latch), and the
        # latest working-order timeout (see hedger.core.timeout_latch).
        self.rearm_cutoffs: dict[str, int] = {}
        self.timeout_cutoffs: dict[str, int] = {}


@dataclass(slots=True)  # not frozen: built per order attempt, on the hot path
class OrderCheck:
    """An order about to leave, with what the checks need to know about its book."""

    book: str
    symbol: str
    quantity: float  # signed shares, positive buys
    price: float  # the limit price, or the mark for a market order
    net_delta: float  # the book's net delta in the underlying, counting working orders
    hedge_position: float  # shares held plus working, in the underlying
    book_pnl: float


def is_reducing(check: OrderCheck) -> bool:
    """The order shrinks both net delta and the gross hedge position."""
    shrinks_delta = abs(check.net_delta + check.quantity) < abs(check.net_delta)
    shrinks_hedge = abs(check.hedge_position + check.quantity) < abs(check.hedge_position)
    return shrinks_delta and shrinks_hedge


def switch_refusal(check: OrderCheck, switches: Switches, mode: KillMode) -> Refusal | None:
    scope = switches.killed_by(check.book)
    if scope is not None and not (mode is KillMode.REDUCE_ONLY and is_reducing(check)):
        return "kill_switch", f"kill switch {scope!r} engaged by {switches.kill[scope]}"
    if check.book in switches.latched:
        return "latched", f"book latched: {switches.latched[check.book]}; re-arm to resume"
    return None


def limit_refusal(check: OrderCheck, limits: BookLimits) -> Refusal | None:
    size = abs(check.quantity)
    if limits.loss_limit < math.inf and not check.book_pnl >= -limits.loss_limit:
        return "loss_limit", f"book P&L {check.book_pnl:,.2f} beyond -{limits.loss_limit:,.2f}"
    if not size <= limits.max_order_shares:
        return "max_order_shares", f"{size:,.0f} shares > {limits.max_order_shares:,.0f}"
    notional = size * check.price
    if not notional <= limits.max_order_notional:
        return "max_order_notional", f"{notional:,.2f} > {limits.max_order_notional:,.2f}"
    before = abs(check.hedge_position)
    after = abs(check.hedge_position + check.quantity)
    if not (after <= limits.max_position_shares or after < before):
        return "max_position", f"position would be {after:,.0f} > {limits.max_position_shares:,.0f}"
    return None


def collar_refusal(price: float, good_mark: float | None, collar: float) -> Refusal | None:
    if good_mark is None or not abs(price / good_mark - 1.0) <= collar:
        return "price_collar", f"price {price} is more than {collar:.1%} from mark {good_mark}"
    return None
