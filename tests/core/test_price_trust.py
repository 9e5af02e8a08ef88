"""A stuck price, and the shell's wall-clock judgment of ticks, through the engine: each
blocks hedging of its underlying until a good tick; a run of ticks taken in one pass
leaves the same stuck-price state as handling them one by one."""

from __future__ import annotations

import pytest

from hedger.core.controls import ControlLimits
from hedger.core.events import FeedTiming, PriceTick
from hedger.core.price_guard import GuardLimits
from tests.scenarios.deep_calls import SECOND, T0, client_buys, denials, make_engine, orders, tick

STUCK = ControlLimits(guard=GuardLimits(stuck_after_ns=60 * SECOND))


def quiet_xyz_moving_abc(engine, until_s: int) -> None:
    for second in range(0, until_s, 5):
        tick(engine, 100.0, second)
        tick(engine, 50.0 + second / 100, second, symbol="ABC")


def test_a_price_unchanged_while_another_moves_is_stuck_until_it_moves():
    engine = make_engine(controls=STUCK)
    quiet_xyz_moving_abc(engine, 65)  # XYZ unchanged 60 s at its last tick
    assert denials(client_buys(engine, 1_000, 61)) == ["stuck_price"]
    assert engine.controls.guard.blocked() == {"XYZ": "stuck_price"}
    assert [o.qty for o in orders(tick(engine, 100.01, 66))] == [1_000]


def test_not_stuck_when_the_whole_market_is_quiet():
    engine = make_engine(controls=STUCK)
    for second in range(0, 65, 5):
        tick(engine, 100.0, second)
        tick(engine, 50.0, second, symbol="ABC")
    assert [o.qty for o in orders(client_buys(engine, 1_000, 61))] == [1_000]


def test_off_at_zero():
    engine = make_engine(controls=ControlLimits(guard=GuardLimits(stuck_after_ns=0)))
    quiet_xyz_moving_abc(engine, 65)
    assert [o.qty for o in orders(client_buys(engine, 1_000, 61))] == [1_000]


@pytest.mark.parametrize("moves_at", [None, 3, 40, 59])
def test_a_run_taken_in_one_pass_leaves_the_same_stuck_state(moves_at: int | None):
    """XYZ's ticks through `handle_ticks` (the steady pass) and through `handle` one by one,
    the mark moving once at `moves_at` s (or never): the same refusal at 64 s (the pass
    keeps only the last two ticks in the guard, so a move early in the run must still
    count from when it happened)."""
    outcomes = []
    for in_one_pass in (True, False):
        engine = make_engine(controls=STUCK)
        tick(engine, 100.0, 0)
        tick(engine, 50.0, 0, symbol="ABC")
        marks = [100.0 if moves_at is None or s < moves_at else 100.01 for s in range(1, 60)]
        run = [PriceTick("XYZ", T0 + s * SECOND, m - 0.01, m + 0.01, None, m) for s, m in
               zip(range(1, 60), marks, strict=True)]  # fmt: skip
        if in_one_pass:
            position = 0
            while position < len(run):
                position, _ = engine.handle_ticks(run, position)
        else:
            for each in run:
                engine.handle(each)
        tick(engine, 50.5, 63, symbol="ABC")
        outcomes.append(denials(client_buys(engine, 1_000, 64)))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == (["stuck_price"] if moves_at in (None, 3) else [])


def test_feed_timing_blocks_the_underlying_until_cleared():
    engine = make_engine()
    tick(engine, 100.0, 0)
    engine.handle(FeedTiming("XYZ", T0 + SECOND, "late_tick", "tick 15.0 s old"))
    assert denials(client_buys(engine, 1_000, 1)) == ["late_tick"]
    assert denials(tick(engine, 100.0, 2)) == ["late_tick"]
    engine.handle(FeedTiming("XYZ", T0 + 3 * SECOND, None))
    assert [o.qty for o in orders(tick(engine, 100.0, 3))] == [1_000]
