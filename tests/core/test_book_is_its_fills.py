"""The book is its fills (issue 16): whatever order the partitions are read in, with
redeliveries, conflicting repeats and restarts on the way, the live books hold what a
rebuild from the whole fill topic holds, and the same books are latched for conflicts.

The fill topic is keyed by book: each book's fills are in one partition, in offset order,
several books to a partition. Client trades are new fills, redeliveries (the same terms)
and repeats of an earlier id with other terms, in its book (a conflict) or in another
(another fill), of shares and of options, some expiring during the history: settled in
shares or in cash at the mark before the expiry instant, whether a fill of them is read
before or after the tick that passed it. Prices are one more partition, so the live engine
hedges on the way, and
the venue fills its hedge orders by appending fills to their book's partition. The live
engine reads any interleaving that keeps each partition's order; at a restart, a fresh
engine is fed what each partition had been read to, in another interleaving, then goes on
live. The rebuild reads every partition whole, in yet another interleaving.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections import deque
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.config import Settings
from hedger.core.actions import Action, InputRejected, LatchBook, SubmitHedgeOrder
from hedger.core.engine import HedgeEngine
from hedger.core.events import Event, FillReport, PriceTick, RecoveryCompleted, Side
from hedger.core.instruments import OptionContract, expiry_instant_ns, is_underlying_symbol
from tests.scenarios import market_maker as mm

SECOND = mm.SECOND
BOOKS = ("mm-1", "mm-2", "mm-3")
SPOTS = {"XYZ": 100.0, "ABC": 50.0}
# Options expiring during the history, a point in the money at its start: the ticks pass
# the expiry instant (`prices_and_expiry`), which fills before it can trade.
MID_EXPIRY = dt.date(2026, 11, 20)
MID_EXPIRY_NS = expiry_instant_ns(MID_EXPIRY, dt.time(16, 0), ZoneInfo("America/New_York"))
INSTRUMENTS = (
    "XYZ",
    "ABC",
    OptionContract("XYZ", mm.EXPIRY, True, 100.0).occ_symbol,
    OptionContract("ABC", mm.EXPIRY, False, 50.0).occ_symbol,
    OptionContract("XYZ", MID_EXPIRY, True, 99.0).occ_symbol,
    OptionContract("XYZ", MID_EXPIRY, False, 101.0).occ_symbol,
    OptionContract("ABC", MID_EXPIRY, True, 49.0).occ_symbol,
    # Refused, whatever the order: expired before any fill; no configured underlying.
    OptionContract("XYZ", dt.date(2026, 10, 16), True, 100.0).occ_symbol,
    "QQQ",
)
CONFIG = Settings(
    rate=mm.RATE,
    band_shares=100.0,
    lot_size=100.0,
    min_interval_ms=0,
    underlyings=frozenset(SPOTS),
    cash_settled_underlyings=frozenset({"ABC"}),
).engine_config()
VENUE = -1  # what `LiveRun` picks to let the venue fill a hedge order

client_steps = st.lists(
    st.tuples(
        st.sampled_from(["new", "new", "new", "redelivered", "conflicting", "other_book"]),
        st.integers(0, len(BOOKS) - 1),
        st.integers(0, len(INSTRUMENTS) - 1),
        st.integers(1, 30),  # shares in hundreds, or contracts
        st.booleans(),  # bought
        st.integers(0, 1_000),  # which earlier fill a repeat repeats
    ),
    min_size=1,
    max_size=40,
)
price_steps = st.lists(st.tuples(st.sampled_from(sorted(SPOTS)), st.floats(-2.0, 2.0)), max_size=30)
# (which working order, whole or half of what remains)
venue_steps = st.lists(st.tuples(st.integers(0, 10), st.booleans()), max_size=10)
partition_of_books = st.lists(st.integers(0, 1), min_size=len(BOOKS), max_size=len(BOOKS))


@st.composite
def prices_and_expiry(draw: st.DrawFn) -> tuple[list[tuple[str, float]], int]:
    """Price steps, and the quarter second from the start of the history of the mid-history
    expiry instant: before the last tick, so that the ticks pass it, at one or between two."""
    prices = draw(price_steps)
    last_tick_quarters = 2 * (len(prices) - 1)
    return prices, draw(st.integers(1, max(1, last_tick_quarters - 1)))


def client_fill(
    fill_id: str, book: str, instrument: str, quantity: int, bought: bool, ts_ns: int
) -> FillReport:
    shares = is_underlying_symbol(instrument)
    side = Side.BUY if bought else Side.SELL
    price = SPOTS.get(instrument, 3.0)
    return FillReport(
        fill_id, book, instrument, side, quantity * (100 if shares else 1), price, ts_ns
    )


def start_ns(expiry_after_quarters: int) -> int:
    return MID_EXPIRY_NS - expiry_after_quarters * SECOND // 4


def client_fills(
    steps: Sequence[tuple[str, int, int, int, bool, int]], start: int
) -> list[FillReport]:
    fills: list[FillReport] = []
    for n, step in enumerate(steps):
        fills.append(client_trade(fills, start + n * SECOND // 2, f"C-{n}", *step))
    return fills


def client_trade(
    fills: list[FillReport],
    ts_ns: int,
    fill_id: str,
    kind: str,
    book: int,
    instrument: int,
    quantity: int,
    bought: bool,
    earlier: int,
) -> FillReport:
    """A new fill, or a repeat of one of `fills`: its terms again (a redelivery), other
    terms in its book (a conflict), or its id in another book (another fill)."""
    if kind == "new" or not fills:
        return client_fill(fill_id, BOOKS[book], INSTRUMENTS[instrument], quantity, bought, ts_ns)
    first = fills[earlier % len(fills)]
    if kind == "redelivered":
        return dataclasses.replace(first, ts_ns=ts_ns)
    if kind == "conflicting":
        return dataclasses.replace(first, qty=first.qty + quantity, ts_ns=ts_ns)
    other = BOOKS[(BOOKS.index(first.book) + 1 + book % 2) % len(BOOKS)]
    return client_fill(first.fill_id, other, INSTRUMENTS[instrument], quantity, bought, ts_ns)


def ticks(steps: Sequence[tuple[str, float]], start: int) -> list[PriceTick]:
    spots = dict(SPOTS)
    made = []
    for n, (symbol, move) in enumerate(steps):
        spot = spots[symbol] = max(spots[symbol] + move, 1.0)
        ts_ns = start + n * SECOND // 2
        made.append(PriceTick(symbol, ts_ns, spot - 0.01, spot + 0.01, None, spot))
    return made


class Topic:
    """The fill topic's partitions, then the price topic's one partition."""

    def __init__(
        self, fills: list[FillReport], prices: list[PriceTick], partition_of: list[int]
    ) -> None:
        self.partition_of = dict(zip(BOOKS, partition_of, strict=True))
        self.partitions: list[list[Event]] = [[], [], list(prices)]
        for fill in fills:
            self.append(fill)

    def append(self, fill: FillReport) -> None:
        self.partitions[self.partition_of[fill.book]].append(fill)


def interleaving(partitions: Sequence[Sequence[Event]], rng: random.Random) -> list[Event]:
    """Every record of `partitions`, each partition's in its order, the partitions mixed."""
    queues = [deque(partition) for partition in partitions if partition]
    mixed: list[Event] = []
    while queues:
        queue = rng.choice(queues)
        mixed.append(queue.popleft())
        queues = [queue for queue in queues if queue]
    return mixed


def settled(engine: HedgeEngine) -> dict[tuple[str, str], float]:
    """The intrinsic value settled so far per (book, underlying): for cash settlement, what
    the positions do not show."""
    values = {(e.book, e.underlying): round(e.settled_value, 6) for e in engine.exposures()}
    return {key: value for key, value in values.items() if value}


def conflict_latches(actions: list[Action]) -> set[str]:
    """The books latched among `actions` for a conflicting fill."""
    if not any(isinstance(a, InputRejected) and a.kind == "conflicting_fill" for a in actions):
        return set()
    return {action.book for action in actions if isinstance(action, LatchBook)}


def rebuild(
    partitions: Sequence[Sequence[Event]], rng: random.Random
) -> tuple[HedgeEngine, set[str]]:
    """A fresh engine fed `partitions` whole, and the books it found conflicts in."""
    engine = HedgeEngine(CONFIG)
    latched: set[str] = set()
    for event in interleaving(partitions, rng):
        latched |= conflict_latches(engine.handle(event))
    return engine, latched


class LiveRun:
    """The live service over `topic`, the venue filling its hedge orders on the way."""

    def __init__(self, topic: Topic, venue: Sequence[tuple[int, bool]], rng: random.Random) -> None:
        self.topic = topic
        self.venue = deque(venue)
        self.rng = rng
        self.read = [0] * len(topic.partitions)
        self.actions: list[Action] = []
        self.latched: set[str] = set()
        self.engine = self.restarted()

    def restarted(self) -> HedgeEngine:
        """A fresh engine fed what each partition has been read to, then live."""
        read = zip(self.topic.partitions, self.read, strict=True)
        engine, latched = rebuild([partition[:end] for partition, end in read], self.rng)
        self.latched |= latched
        self.actions += engine.handle(RecoveryCompleted(0))
        return engine

    def run(self, restarts: set[int]) -> None:
        step = 0
        while choices := self.choices():
            if step in restarts:
                self.engine = self.restarted()
            self.take(self.rng.choice(choices))
            step += 1

    def choices(self) -> list[int]:
        partitions = enumerate(self.topic.partitions)
        unread = [index for index, records in partitions if self.read[index] < len(records)]
        return unread + ([VENUE] if self.venue else [])

    def take(self, choice: int) -> None:
        if choice == VENUE:
            self.fill_hedge(*self.venue.popleft())
            return
        event = self.topic.partitions[choice][self.read[choice]]
        self.read[choice] += 1
        actions = self.engine.handle(event)
        self.actions += actions
        self.latched |= conflict_latches(actions)

    def fill_hedge(self, which: int, whole: bool) -> None:
        working = sorted(self.engine.working_orders().items())
        if not working:
            return
        order_id, order = working[which % len(working)]
        side = Side.BUY if order.remaining > 0 else Side.SELL
        qty = abs(order.remaining) * (1.0 if whole else 0.5)
        fill_id = f"H-{len(self.venue)}"  # the venue's steps left: one id per step
        ts_ns = order.ts_ns + SECOND
        fill = FillReport(
            fill_id, order.book, order.symbol, side, qty, order.ref_price, ts_ns, order_id, 0.5
        )
        self.topic.append(fill)


@settings(max_examples=300, deadline=None)
@given(
    client_steps,
    prices_and_expiry(),
    venue_steps,
    partition_of_books,
    st.sets(st.integers(0, 100), max_size=3),
    st.randoms(use_true_random=False),
)
def test_the_live_books_equal_a_rebuild_from_the_fill_topic(
    clients, prices_expiry, venue, partition_of, restarts, rng
):
    prices, expiry_after_quarters = prices_expiry
    start = start_ns(expiry_after_quarters)
    topic = Topic(client_fills(clients, start), ticks(prices, start), partition_of)
    live = LiveRun(topic, venue, rng)
    live.run(restarts)
    rebuilt, latched = rebuild(topic.partitions, rng)
    assert live.engine.positions() == rebuilt.positions()
    assert settled(live.engine) == pytest.approx(settled(rebuilt))
    assert live.latched == latched


def test_the_histories_reach_hedge_orders_their_fills_refusals_and_conflicts():
    """The property above is only as good as the states it reaches."""
    kinds = ["new", "new", "conflicting", "new", "other_book", "redelivered"]
    clients = [(kinds[n % 6], n % 3, 2 * n % 9, 5 + n, n % 4 != 1, 7 * n) for n in range(30)]
    prices = [(sorted(SPOTS)[n % 2], 0.5 if n % 3 else -1.0) for n in range(30)]
    start = start_ns(30)
    topic = Topic(client_fills(clients, start), ticks(prices, start), [0, 1, 1])
    live = LiveRun(topic, [(n, n % 2 == 0) for n in range(10)], random.Random(7))
    live.run({10, 30})

    refusals = {action.kind for action in live.actions if isinstance(action, InputRejected)}
    assert {"conflicting_fill", "expired_option", "unknown_instrument"} <= refusals
    assert any(isinstance(action, SubmitHedgeOrder) for action in live.actions)
    assert any(exposure.hedge_fills for exposure in live.engine.exposures())
    assert live.latched
    held = {instrument for _, instrument in live.engine.positions()}
    assert {"XYZ", "ABC", INSTRUMENTS[2], INSTRUMENTS[3]} <= held
    # An option expiring during the history was booked, and settled in the money.
    assert not held & set(INSTRUMENTS[4:7])
    assert settled(live.engine)
