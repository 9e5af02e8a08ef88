"""The timeout latch through the engine: a book whose hedge orders keep timing out with no
fill stops after `HEDGER_TIMEOUT_LATCH` timeouts, like the flip-flop latch.

Books and helpers: `tests.scenarios.deep_calls` (a book's delta is its deep calls)."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from hedger.core.actions import CancelHedgeOrder, LatchBook
from hedger.core.controls import ControlLimits
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    BookRearmed,
    FillReport,
    HedgeOrderCancelled,
    HedgeOrderRecorded,
    RecoveryCompleted,
    Side,
    TimerFired,
)
from tests.scenarios.deep_calls import (
    POLICY,
    SECOND,
    T0,
    client_buys,
    denials,
    make_engine,
    orders,
    tick,
)

TIMEOUT_S = 30
CONTROLS = ControlLimits(working_order_timeout_ns=TIMEOUT_S * SECOND, timeout_latch=3)


def timeout_cycle(engine: HedgeEngine, start_s: int) -> list[object]:
    """A tick at `start_s` (an order goes out), then the timer that times it out."""
    return tick(engine, 100.0, start_s) + engine.handle(
        TimerFired(T0 + (start_s + TIMEOUT_S + 1) * SECOND)
    )


def test_the_third_timeout_without_a_fill_latches_the_book():
    engine = make_engine(controls=CONTROLS)
    tick(engine, 100.0, 0)
    client_buys(engine, 1_000, 1)  # 1,000 shares to sell; the venue never fills
    sent, cancels, latches = 1, 0, []
    for start_s in (1, 33, 65):
        actions = engine.handle(TimerFired(T0 + (start_s + TIMEOUT_S + 1) * SECOND))
        cancels += sum(isinstance(a, CancelHedgeOrder) for a in actions)
        latches += [a for a in actions if isinstance(a, LatchBook)]
        sent += len(orders(tick(engine, 100.0, start_s + TIMEOUT_S + 2)))
    assert (sent, cancels) == (3, 3)  # after the third cancel, nothing more is sent
    assert [latch.book for latch in latches] == ["mm-1"]
    assert "3 working-order timeouts without a hedge fill" in latches[0].detail
    assert "mm-1" in engine.controls.switches.latched
    assert denials(tick(engine, 100.0, 200)) == ["latched"]


def test_a_hedge_fill_between_timeouts_starts_the_count_again():
    engine = make_engine(controls=CONTROLS)
    tick(engine, 100.0, 0)
    client_buys(engine, 1_000, 1)
    engine.handle(TimerFired(T0 + 32 * SECOND))  # timeout 1
    (sale,) = orders(tick(engine, 100.0, 33))
    engine.handle(_partial_fill(sale, 100, 34))  # filled in part: the venue works
    engine.handle(TimerFired(T0 + 64 * SECOND))  # timeout 1 since the fill
    actions = timeout_cycle(engine, 65)  # timeout 2
    assert not [a for a in actions if isinstance(a, LatchBook)]
    assert "mm-1" not in engine.controls.switches.latched


def test_off_at_zero():
    engine = make_engine(controls=dataclasses.replace(CONTROLS, timeout_latch=0))
    tick(engine, 100.0, 0)
    client_buys(engine, 1_000, 1)
    engine.handle(TimerFired(T0 + 32 * SECOND))
    for start_s in range(33, 33 + 10 * 32, 32):
        actions = timeout_cycle(engine, start_s)
        assert not [a for a in actions if isinstance(a, LatchBook)]
    assert engine.controls.switches.latched == {}


def test_a_rearm_forgets_the_timeouts_so_far():
    engine = make_engine(controls=CONTROLS)
    tick(engine, 100.0, 0)
    client_buys(engine, 1_000, 1)
    engine.handle(TimerFired(T0 + 32 * SECOND))
    timeout_cycle(engine, 33)
    timeout_cycle(engine, 65)  # the third: latched
    engine.handle(BookRearmed("mm-1", T0 + 100 * SECOND, "ops"))
    for start_s in (101, 133):  # two more: under the limit again
        actions = timeout_cycle(engine, start_s)
        assert not [a for a in actions if isinstance(a, LatchBook)]
    assert [a.book for a in timeout_cycle(engine, 165) if isinstance(a, LatchBook)] == ["mm-1"]


@pytest.mark.parametrize("order", list(itertools.permutations(range(4))))
def test_read_back_cancels_and_fills_count_the_same_in_any_order(order: tuple[int, ...]):
    """Rebuilt in any order: a hedge fill at 50 s, of an order later cancelled; timeouts at
    40 s (before it: no longer counts), 60 s and 70 s. With the live timeout at 80 s that is
    three, under a limit of four; counting the 40 s one too would latch the book."""
    controls = dataclasses.replace(CONTROLS, timeout_latch=4)
    engine = HedgeEngine(EngineConfig(policy=POLICY, default_multiplier=1.0, controls=controls))
    recorded = [
        HedgeOrderRecorded(f"H-{i}", "mm-1", "XYZ", Side.SELL, 1_000, T0 + i * SECOND, 100.0)
        for i in range(4)
    ]
    for order_read in recorded:
        engine.handle(order_read)
    history = [
        HedgeOrderCancelled("H-0", "mm-1", T0 + 40 * SECOND, "timeout"),
        _partial_fill(recorded[1], 100, 50),
        HedgeOrderCancelled("H-2", "mm-1", T0 + 60 * SECOND, "timeout"),
        HedgeOrderCancelled("H-1", "mm-1", T0 + 70 * SECOND, "timeout"),
    ]
    for index in order:
        engine.handle(history[index])
    engine.handle(RecoveryCompleted(T0))
    tick(engine, 100.0, 71)
    actions = engine.handle(TimerFired(T0 + 80 * SECOND))  # H-3 times out
    assert [a for a in actions if isinstance(a, CancelHedgeOrder)]
    assert not [a for a in actions if isinstance(a, LatchBook)]
    assert engine.desk.timeout_latch.unfilled("mm-1") == 3


def _partial_fill(order: HedgeOrderRecorded | object, qty: float, seconds: int) -> FillReport:
    return FillReport(
        f"PX-{order.order_id}-{seconds}",  # type: ignore[attr-defined]
        "mm-1",
        "XYZ",
        Side.SELL,
        qty,
        100.0,
        T0 + seconds * SECOND,
        order_id=order.order_id,  # type: ignore[attr-defined]
        fee=0.0,
    )
