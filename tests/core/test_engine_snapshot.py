"""A snapshot of the engine, restored, carries on exactly as the engine it was taken of.

Any history of ticks, vol points, client option and share trades, fills of the engine's own
hedge orders (whole or in part), redelivered and conflicting fills, fill ids repeated in
another book, timers, kill switches and latches is cut at any point: an engine restored
from the snapshot at the cut and fed the rest decides, event by event, what the
uninterrupted engine decided, and ends with its books. Hedge fills are built from the
uninterrupted engine's working orders, so the orders it decided are what the rest of the
history fills.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import pickle
import shutil
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hedger.core
from hedger.config import Settings
from hedger.core.actions import Action
from hedger.core.controls import BookLimits, ControlLimits
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    BookLatched,
    BookRearmed,
    Event,
    FillReport,
    KillSwitchSet,
    PriceTick,
    RecoveryCompleted,
    Side,
    TimerFired,
    VolUpdate,
)
from hedger.core.instruments import OptionContract
from hedger.core.throttle import RateLimit
from hedger.engine_snapshot import (
    FINGERPRINT,
    SnapshotError,
    dump_engine,
    fingerprint,
    load_engine,
)

SECOND = 1_000_000_000
START_NS = 1_780_000_000 * SECOND
EXPIRY = dt.date(2026, 12, 18)
BOOKS = ("mm-1", "mm-2")
UNDERLYINGS = ("XYZ", "ABC")


def config() -> EngineConfig:
    """Tight limits, so that histories run into the throttle, the caps and the latches."""
    base = Settings().engine_config()
    limits = BookLimits(
        max_order_shares=4000,
        max_notional_per_minute=300_000,
        rate=RateLimit(per_minute=6, burst=2),
    )
    controls = ControlLimits(latch_reversals=2, working_order_timeout_ns=20 * SECOND)
    return dataclasses.replace(
        base, limits=limits, american_underlyings=frozenset({"ABC"}), controls=controls
    )


steps = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "tick",
                "tick",
                "tick",
                "vol",
                "client",
                "shares",
                "hedge_fill",
                "repeat",
                "timer",
                "kill",
                "latch",
            ]
        ),
        st.integers(0, 7),
        st.floats(-3.0, 3.0, allow_nan=False),
    ),
    min_size=20,
    max_size=80,
)


class History:
    """Events built step by step against the uninterrupted engine, with what it decided."""

    def __init__(self) -> None:
        self.engine = HedgeEngine(config())
        self.events: list[Event] = []
        self.actions: list[list[Action]] = []
        self.ns = START_NS
        self.spots = {"XYZ": 100.0, "ABC": 50.0}
        self.fills: list[FillReport] = []
        self.add(RecoveryCompleted(0))

    def add(self, event: Event) -> None:
        self.events.append(event)
        self.actions.append(self.engine.handle(event))

    def step(self, kind: str, index: int, amount: float) -> None:
        self.ns += (1 + index) * SECOND // 4
        symbol = UNDERLYINGS[index % 2]
        book = BOOKS[index // 2 % 2]
        if kind == "tick":
            spot = self.spots[symbol] = max(self.spots[symbol] + amount, 1.0)
            self.add(PriceTick(symbol, self.ns, spot - 0.01, spot + 0.01, None, spot))
        elif kind == "vol":
            strike = None if index < 4 else self.spots[symbol] + index
            self.add(VolUpdate(symbol, self.ns, 0.2 + abs(amount) / 20, EXPIRY, strike))
        elif kind == "client":
            contract = OptionContract(symbol, EXPIRY, index % 3 != 0, round(self.spots[symbol]))
            side = Side.BUY if amount > 0 else Side.SELL
            self.fill(book, contract.occ_symbol, side, 10 + index * 7, 2.5)
        elif kind == "shares":
            side = Side.BUY if amount > 0 else Side.SELL
            self.fill(book, symbol, side, 100 * (index + 1), self.spots[symbol])
        elif kind == "hedge_fill":
            self.fill_working(index, amount)
        elif kind == "repeat" and self.fills:
            first = self.fills[index % len(self.fills)]
            # The same terms again (a redelivery), other terms (a conflict, latching), or the
            # id in the other book (another fill).
            qty = first.qty if amount > -2 else first.qty + 1
            other = BOOKS[1 - BOOKS.index(first.book)] if amount < -2.5 else first.book
            self.add(dataclasses.replace(first, book=other, qty=qty, ts_ns=self.ns))
        elif kind == "timer":
            self.add(TimerFired(self.ns))
        elif kind == "kill":
            scope = "*" if index == 0 else book
            self.add(KillSwitchSet(scope, amount > 1.5, self.ns, "test"))
        elif kind == "latch":
            event = (
                BookLatched(book, self.ns, "test")
                if amount > 0
                else BookRearmed(book, self.ns, "test")
            )
            self.add(event)

    def fill(
        self, book: str, instrument: str, side: Side, qty: float, price: float, **more: object
    ) -> None:
        fill = FillReport(
            f"F-{len(self.events)}", book, instrument, side, qty, price, self.ns, **more
        )
        self.fills.append(fill)
        self.add(fill)

    def fill_working(self, index: int, amount: float) -> None:
        working = sorted(self.engine.working_orders().items())
        if not working:
            return
        order_id, order = working[index % len(working)]
        part = 1.0 if amount >= 0 else 0.5  # whole, or half of what remains
        qty = abs(order.remaining) * part
        side = Side.BUY if order.remaining > 0 else Side.SELL
        self.fill(order.book, order.symbol, side, qty, order.ref_price, order_id=order_id, fee=0.5)


def books_of(engine: HedgeEngine) -> list[str]:
    # repr: NaN marks compare equal as text, not as floats.
    return sorted(map(repr, engine.exposures())) + sorted(
        map(repr, engine.working_orders().items())
    )


@settings(max_examples=150, deadline=None)
@given(steps, st.integers(0, 1000))
def test_a_restored_engine_decides_what_the_uninterrupted_one_did(history_steps, cut):
    history = History()
    for step in history_steps:
        history.step(*step)
    cut %= len(history.events) + 1
    taken = HedgeEngine(config())
    for event in history.events[:cut]:
        taken.handle(event)
    restored = load_engine(dump_engine(taken), config())
    assert books_of(restored) == books_of(taken)
    for event, decided in zip(history.events[cut:], history.actions[cut:], strict=True):
        assert restored.handle(event) == decided, event
    assert books_of(restored) == books_of(history.engine)


def test_the_histories_reach_orders_fills_of_them_refusals_and_latches():
    """The property above is only as good as the states it reaches."""
    history = History()
    for index in range(120):
        kind = ["tick", "tick", "client", "hedge_fill", "repeat", "timer"][index % 6]
        history.step(kind, index % 8, 1.5 if index % 4 else -2.5)
    decided = [type(action).__name__ for actions in history.actions for action in actions]
    assert {"SubmitHedgeOrder", "InputRejected", "LatchBook"} <= set(decided)
    assert any(fill.order_id for fill in history.fills)
    assert any(exposure.hedge_fills for exposure in history.engine.exposures())


def test_a_snapshot_of_another_configuration_is_refused():
    data = dump_engine(HedgeEngine(config()))
    other = dataclasses.replace(config(), rate=0.05)
    with pytest.raises(SnapshotError, match="another engine configuration"):
        load_engine(data, other)


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("echo should never run",)


@pytest.mark.parametrize(
    "payload",
    [_Payload(), print, pickle.dumps],
    ids=["os.system", "a builtin", "a function"],
)
def test_bytes_that_are_not_engine_state_are_refused_unrun(payload):
    import zlib

    data = zlib.compress(pickle.dumps(payload, protocol=5))
    with pytest.raises(SnapshotError, match="refused"):
        load_engine(data, config())


def test_broken_bytes_are_one_clear_error():
    with pytest.raises(SnapshotError, match="unreadable"):
        load_engine(b"not a snapshot", config())


def test_the_fingerprint_changes_with_any_byte_of_the_engine_code(tmp_path):
    core = tmp_path / "core"
    shutil.copytree(Path(hedger.core.__file__).parent, core, ignore=shutil.ignore_patterns("*.pyc"))
    assert fingerprint(core) == FINGERPRINT
    policy = core / "policy.py"
    policy.write_bytes(policy.read_bytes() + b"\n")
    assert fingerprint(core) != FINGERPRINT
