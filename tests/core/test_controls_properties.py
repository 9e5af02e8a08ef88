"""Properties of the controls over any sequence of ticks, fills, switches and timers.

For every generated history: no order exceeds a size, notional or position limit; over
any stretch of event time the orders of a book, and of all books, stay within their
token-bucket budget, and over any minute within their notional cap; and no order leaves
while a kill switch for its book (or all books) or its book's latch is set — in
reduce-only mode, only orders that shrink both net delta and the hedge position leave
under a kill switch. The test keeps its own record of
positions, switches and latches from what it sent and what came back, independently of
the engine's state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.actions import HedgeDenied, LatchBook, SubmitHedgeOrder
from hedger.core.controls import BookLimits, ControlLimits, KillMode
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    BookRearmed,
    FillReport,
    KillSwitchSet,
    PriceTick,
    RecoveryCompleted,
    Side,
    TimerFired,
)
from hedger.core.policy import BandPolicy
from hedger.core.price_guard import GuardLimits
from hedger.core.throttle import RateLimit
from tests.scenarios.deep_calls import DEEP_CALL, SECOND, T0

BOOKS = ("a", "b")
LIMITS = BookLimits(
    max_order_shares=1_500.0,
    max_order_notional=160_000.0,
    max_position_shares=3_000.0,
    max_notional_per_minute=250_000.0,
    rate=RateLimit(per_minute=4.0, burst=2.0),
)
TOTAL = RateLimit(per_minute=6.0, burst=3.0)
TOTAL_NOTIONAL = 400_000.0


def controls(kill_mode: KillMode) -> ControlLimits:
    return ControlLimits(
        guard=GuardLimits(stale_after_ns=30 * SECOND, jump_fraction=0.15, confirm_ticks=2),
        total_rate=TOTAL,
        total_notional_per_minute=TOTAL_NOTIONAL,
        price_collar=0.08,
        latch_reversals=2,
        latch_window_ns=60 * SECOND,
        kill_mode=kill_mode,
    )


# Steps: (kind, index, amount, seconds forward). A tick's amount is its relative move; a
# client's, the calls the book buys (negative: sells); a switch's index is a book or "*"
# (the last index), its amount > 0 engages, < 0 releases, > 0.15 re-arms a book.
seconds = st.floats(0.05, 4.0)
books = st.integers(0, len(BOOKS) - 1)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), books, st.floats(-0.02, 0.02) | st.floats(-0.2, 0.2), seconds),
        st.tuples(st.just("client"), books, st.integers(-1_600, 1_600).map(float), seconds),
        st.tuples(st.just("fill"), books, st.just(0.0), seconds),
        st.tuples(st.just("kill"), st.integers(0, len(BOOKS)), st.floats(-0.3, 0.3), seconds),
        st.tuples(st.just("timer"), books, st.just(0.0), seconds),
    ),
    min_size=5,
    max_size=80,
)


@dataclass
class Record:
    """What the test knows, from what it sent and what came back."""

    kill: set[str] = field(default_factory=set)
    latched: set[str] = field(default_factory=set)
    shares: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BOOKS, 0.0))
    working: dict[str, SubmitHedgeOrder] = field(default_factory=dict)
    order_times: dict[str, list[int]] = field(default_factory=dict)
    notionals: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    calls: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BOOKS, 0.0))
    refusals: list[str] = field(default_factory=list)

    def hedge_position(self, book: str) -> float:
        working = sum(o.side.sign * o.qty for o in self.working.values() if o.book == book)
        return self.shares[book] + working


class History:
    def __init__(self, kill_mode: KillMode) -> None:
        config = EngineConfig(
            policy=BandPolicy(band_shares=100.0),
            default_multiplier=1.0,
            limits=LIMITS,
            controls=controls(kill_mode),
        )
        self.engine = HedgeEngine(config)
        self.engine.handle(RecoveryCompleted(T0))
        self.engine.handle(PriceTick("XYZ", T0, 99.99, 100.01, None, 100.0))
        self.kill_mode = kill_mode
        self.record = Record()
        self.ts = T0
        self.mark = 100.0
        self.sequence = 0

    def step(self, kind: str, index: int, amount: float, seconds: float) -> None:
        self.ts += round(seconds * SECOND)
        self.sequence += 1
        book = BOOKS[index % len(BOOKS)]
        if kind == "tick":
            # Above 20 the deep calls' delta is exactly 1.0, which the checks rely on.
            self.mark = max(20.0, self.mark * (1.0 + amount))
            event = PriceTick("XYZ", self.ts, self.mark - 0.01, self.mark + 0.01, None, self.mark)
            self.handle(event)
        elif kind == "client":
            calls = round(amount)
            if calls:
                self.record.calls[book] += calls
                fill_id = f"C-{self.sequence}"
                side = Side.of(calls)
                self.handle(FillReport(fill_id, book, DEEP_CALL, side, abs(calls), 99.0, self.ts))
        elif kind == "fill":
            self.fill_oldest()
        elif kind == "kill":
            self.switch(index, amount)
        else:
            self.handle(TimerFired(self.ts))

    def switch(self, index: int, amount: float) -> None:
        scope = BOOKS[index] if index < len(BOOKS) else "*"
        if amount > 0.15 and scope != "*":
            self.record.latched.discard(scope)
            self.handle(BookRearmed(scope, self.ts, "ops"))
            return
        engaged = amount > 0
        (self.record.kill.add if engaged else self.record.kill.discard)(scope)
        self.handle(KillSwitchSet(scope, engaged, self.ts, "ops"))

    def fill_oldest(self) -> None:
        if not self.record.working:
            return
        order = next(iter(self.record.working.values()))
        fill = FillReport(
            f"PX-{order.order_id}", order.book, order.symbol, order.side, order.qty,
            self.mark, self.ts, order_id=order.order_id, fee=1.0,
        )  # fmt: skip
        self.handle(fill)

    def handle(self, event: object) -> None:
        if isinstance(event, FillReport) and event.order_id in self.record.working:
            del self.record.working[event.order_id]
            self.record.shares[event.book] += event.side.sign * event.qty
        for action in self.engine.handle(event):  # type: ignore[arg-type]
            if isinstance(action, SubmitHedgeOrder):
                self.check_order(action)
            elif isinstance(action, LatchBook):
                self.record.latched.add(action.book)
            elif isinstance(action, HedgeDenied):
                self.record.refusals.append(action.reason)

    def check_order(self, order: SubmitHedgeOrder) -> None:
        record, book = self.record, order.book
        signed = order.side.sign * order.qty
        position = record.hedge_position(book)
        assert order.qty <= LIMITS.max_order_shares
        assert order.qty * order.ref_price <= LIMITS.max_order_notional
        assert abs(position + signed) <= LIMITS.max_position_shares or abs(position + signed) < abs(
            position
        )
        assert book not in record.latched
        if record.kill & {book, "*"}:
            assert self.kill_mode is KillMode.REDUCE_ONLY
            net_delta = record.calls[book] + position  # deep calls: delta 1 each
            assert abs(net_delta + signed) < abs(net_delta)
            assert abs(position + signed) < abs(position)
        record.working[order.order_id] = order
        record.order_times.setdefault(book, []).append(order.ts_ns)
        record.order_times.setdefault("*", []).append(order.ts_ns)
        for scope in (book, "*"):
            record.notionals.setdefault(scope, []).append(
                (order.ts_ns, order.qty * order.ref_price)
            )


def within_budget(times: list[int], limit: RateLimit) -> bool:
    """Every stretch [t_i, t_j] holds at most burst + rate × length orders."""
    ordered = sorted(times)
    for i, start in enumerate(ordered):
        for j in range(i, len(ordered)):
            minutes = (ordered[j] - start) / (60 * SECOND)
            if j - i + 1 > limit.burst + limit.per_minute * minutes + 1e-9:
                return False
    return True


def within_notional_cap(orders: list[tuple[int, float]], cap: float) -> bool:
    """The orders of every minute (t - 60 s, t] of event time add up to at most `cap`."""
    for end, _ in orders:
        minute = [notional for ts, notional in orders if end - 60 * SECOND < ts <= end]
        if sum(minute) > cap * (1 + 1e-12):
            return False
    return True


def run(kill_mode: KillMode, history_steps: list[tuple[str, int, float, float]]) -> History:
    history = History(kill_mode)
    for step in history_steps:
        history.step(*step)
    for book in BOOKS:
        assert within_budget(history.record.order_times.get(book, []), LIMITS.rate)
    assert within_budget(history.record.order_times.get("*", []), TOTAL)
    for book in BOOKS:
        notionals = history.record.notionals.get(book, [])
        assert within_notional_cap(notionals, LIMITS.max_notional_per_minute)
    assert within_notional_cap(history.record.notionals.get("*", []), TOTAL_NOTIONAL)
    return history


PROPERTIES = settings(max_examples=300, deadline=None)


@PROPERTIES
@given(history_steps=steps)
def test_controls_any_history_never_breaks_a_limit_a_budget_or_a_switch(history_steps):
    run(KillMode.STOP, history_steps)


@PROPERTIES
@given(history_steps=steps)
def test_controls_reduce_only_any_history_sends_only_unwinding_orders_under_a_kill(
    history_steps,
):
    run(KillMode.REDUCE_ONLY, history_steps)


def test_controls_property_harness_sees_orders_and_refusals():
    # The generated histories exercise the paths the properties are about: a busy history
    # sends orders and runs into limits (otherwise the properties would hold vacuously).
    history = run(
        KillMode.STOP,
        [("tick", 0, 0.0, 1.0)]
        + [("client", 0, 400.0, 1.0) for _ in range(4)]  # 400 calls a second: over the burst
        + [("client", 1, 1_600.0, 1.0), ("fill", 0, 0.0, 1.0), ("tick", 0, 0.01, 1.0)],
    )
    assert history.record.order_times
    assert {"max_order_shares", "rate_limit_book"} <= set(history.record.refusals)


def test_controls_property_harness_runs_into_the_notional_cap():
    # 1,000 shares at 100 every 15 s: the third order of a minute would pass 250,000.
    history = run(
        KillMode.STOP,
        [("tick", 0, 0.0, 1.0)]
        + [("client", 0, 1_000.0, 15.0), ("fill", 0, 0.0, 0.1), ("tick", 0, 0.0, 0.1)] * 3,
    )
    assert history.record.refusals.count("notional_cap_book") == 2  # the fill's, the tick's
    assert len(history.record.order_times["a"]) == 2
