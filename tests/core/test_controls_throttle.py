"""Throttle, order shaping, the flip-flop latch, timeouts and timed policies, through the
engine: the minimum interval, lots and minimum quantity, token buckets, refusal episodes.

Books and helpers: `tests.scenarios.deep_calls` (a book's delta is its deep calls).
"""

from __future__ import annotations

import dataclasses

from hedger.core.actions import CancelHedgeOrder, HedgeDenied, LatchBook
from hedger.core.controls import BookLimits, ControlLimits
from hedger.core.decisions import BookSetup
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    BookLatched,
    BookRearmed,
    FillReport,
    HedgeOrderCancelled,
    HedgeOrderRecorded,
    KillSwitchSet,
    RecoveryCompleted,
    Side,
    TimerFired,
)
from hedger.core.policy import BandPolicy
from hedger.core.throttle import RateLimit
from tests.scenarios.deep_calls import (
    POLICY,
    SECOND,
    T0,
    client_buys,
    denials,
    fill,
    make_engine,
    orders,
    tick,
)


def test_min_interval_within_interval_is_refused_then_allowed_after():
    engine = make_engine(BandPolicy(band_shares=100.0, min_interval_ns=10 * SECOND))
    tick(engine, 100.0, 0)
    first = orders(client_buys(engine, 1_000, 1))
    fill(engine, first[0], 100.0)
    assert denials(client_buys(engine, 500, 5)) == ["min_interval"]
    assert [o.qty for o in orders(tick(engine, 100.0, 11))] == [500]


def test_below_minimum_quantity_under_min_order_shares_is_refused():
    engine = make_engine(BandPolicy(band_shares=100.0, min_order_shares=500.0))
    tick(engine, 100.0, 0)
    actions = client_buys(engine, 300, 1)
    assert denials(actions) == ["below_minimum"]
    assert orders(actions) == []


def flip_flop(engine: HedgeEngine, times: int, start_s: float = 1.0) -> list[object]:
    """The book alternately buys and sells 1,000 calls, the hedger follows each time."""
    actions: list[object] = []
    for index in range(times):
        seconds = start_s + index * 2
        step = client_buys(engine, 1_000 if index % 2 == 0 else -1_000, seconds)
        for order in orders(step):
            fill(engine, order, 100.0)
        tick(engine, 100.0, seconds + 1)
        actions += step
    return actions


def test_flip_flop_latch_the_nth_reversal_in_the_window_latches_the_book():
    controls = ControlLimits(latch_reversals=3, latch_window_ns=60 * SECOND)
    engine = make_engine(controls=controls)
    tick(engine, 100.0, 0)
    actions = flip_flop(engine, 5)
    # Orders: sell, buy (1st reversal), sell (2nd), then the 3rd reversal is refused.
    assert [o.side for o in orders(actions)] == [Side.SELL, Side.BUY, Side.SELL]
    latches = [a for a in actions if isinstance(a, LatchBook)]
    assert [latch.book for latch in latches] == ["mm-1"]
    assert "latched" in denials(actions)
    # Latched: nothing leaves, whichever direction.
    assert denials(client_buys(engine, 5_000, 20)) == ["latched"]


def test_flip_flop_latch_reversals_spread_beyond_the_window_do_not_latch():
    controls = ControlLimits(latch_reversals=3, latch_window_ns=3 * SECOND)
    engine = make_engine(controls=controls)
    tick(engine, 100.0, 0)
    actions = flip_flop(engine, 6)
    assert len(orders(actions)) == 6
    assert not any(isinstance(a, LatchBook) for a in actions)


def test_flip_flop_latch_recorded_on_the_control_topic_stops_a_fresh_engine_until_rearmed():
    engine = make_engine()
    engine.handle(BookLatched("mm-1", T0, "hedger", "8 reversals"))
    tick(engine, 100.0, 0)
    assert denials(client_buys(engine, 1_000, 1)) == ["latched"]
    engine.handle(BookRearmed("mm-1", T0, "ops"))
    assert len(orders(tick(engine, 100.0, 2))) == 1


def test_flip_flop_latch_history_is_rebuilt_from_recorded_orders():
    controls = ControlLimits(latch_reversals=2, latch_window_ns=60 * SECOND)
    engine = HedgeEngine(EngineConfig(policy=POLICY, controls=controls))
    for index, side in enumerate([Side.SELL, Side.BUY]):  # one reversal already
        ts = T0 + index * SECOND
        recorded = HedgeOrderRecorded(f"H-{index}", "mm-1", "XYZ", side, 100, ts, 100.0)
        engine.handle(recorded)
        engine.handle(FillReport(f"PX-{index}", "mm-1", "XYZ", side, 100, 100.0, ts, f"H-{index}"))
    engine.handle(RecoveryCompleted(T0))
    tick(engine, 100.0, 3)
    # The next reversal (a sale) is the second: refused and latched.
    actions = client_buys(engine, 1_000, 4)
    assert denials(actions) == ["latched"]


def test_rate_limit_per_book_refuses_beyond_the_burst_then_refills():
    limits = BookLimits(rate=RateLimit(per_minute=6.0, burst=2.0))
    engine = make_engine(limits=limits)
    tick(engine, 100.0, 0)
    sent = [orders(client_buys(engine, 1_000, 1 + index * 0.1)) for index in range(2)]
    assert [len(s) for s in sent] == [1, 1]
    assert denials(client_buys(engine, 1_000, 1.3)) == ["rate_limit_book"]
    # 6 a minute: one token back after 10 s of event time, and the next tick spends it.
    assert len(orders(tick(engine, 100.0, 11.5))) == 1
    assert denials(client_buys(engine, 1_000, 12)) == ["rate_limit_book"]


def test_rate_limit_total_refuses_across_books():
    controls = ControlLimits(total_rate=RateLimit(per_minute=1.0, burst=2.0))
    engine = make_engine(controls=controls)
    tick(engine, 100.0, 0)
    assert len(orders(client_buys(engine, 1_000, 1, book="a"))) == 1
    assert len(orders(client_buys(engine, 1_000, 1, book="b"))) == 1
    assert denials(client_buys(engine, 1_000, 1, book="c")) == ["rate_limit_total"]


def test_refusal_episode_is_new_only_for_the_first_of_a_run():
    engine = make_engine()
    tick(engine, 100.0, 0)
    engine.handle(KillSwitchSet("*", True, T0, "ops"))
    first = client_buys(engine, 1_000, 1)
    later = tick(engine, 100.0, 2) + tick(engine, 100.0, 3)
    flags = [a.new_episode for a in first + later if isinstance(a, HedgeDenied)]
    assert flags == [True, False, False]
    # Back inside the band ends the episode; the next refusal starts a new one.
    client_buys(engine, -1_000, 4)
    again = client_buys(engine, 1_000, 5)
    assert [a.new_episode for a in again if isinstance(a, HedgeDenied)] == [True]


def test_working_order_timeout_cancels_and_stops_counting_the_order():
    engine = make_engine(controls=ControlLimits(working_order_timeout_ns=30 * SECOND))
    tick(engine, 100.0, 0)
    sale = orders(client_buys(engine, 1_000, 1))[0]
    assert engine.handle(TimerFired(T0 + 10 * SECOND)) == []
    actions = engine.handle(TimerFired(T0 + 31 * SECOND))
    cancels = [a for a in actions if isinstance(a, CancelHedgeOrder)]
    assert [(c.order_id, c.reason) for c in cancels] == [(sale.order_id, "timeout")]
    assert engine.working_orders() == {}
    # No longer counted: the next tick hedges the same delta again, under a new id.
    again = orders(tick(engine, 100.0, 32))
    assert [(o.qty, o.order_id != sale.order_id) for o in again] == [(1_000, True)]


def test_working_order_cancel_read_back_on_a_restart_is_not_working():
    engine = HedgeEngine(EngineConfig(policy=POLICY))
    engine.handle(HedgeOrderRecorded("H-1", "mm-1", "XYZ", Side.SELL, 500, T0, 100.0))
    engine.handle(HedgeOrderCancelled("H-1", "mm-1", T0 + SECOND))
    assert engine.working_orders() == {}
    exposure = next(engine.exposures())
    assert exposure.working_shares == 0.0


def test_timed_policy_hedges_on_its_timers_only():
    policy = BandPolicy(band_shares=10.0, rebalance_every_ns=60 * SECOND)
    engine = make_engine(policy)
    tick(engine, 100.0, 0)
    assert orders(client_buys(engine, 1_000, 1)) == []  # a fill: no decision
    assert orders(tick(engine, 100.0, 2)) == []  # a tick: no decision
    first = orders(engine.handle(TimerFired(T0 + 5 * SECOND)))
    assert [(o.qty, o.reason) for o in first] == [(1_000, "rebalance")]
    tick(engine, 100.0, 6)
    client_buys(engine, 500, 7)
    # The same minute: not due again.
    assert orders(engine.handle(TimerFired(T0 + 30 * SECOND))) == []


def test_book_setup_overrides_the_default_policy_for_that_book_only():
    wide = BookSetup(dataclasses.replace(POLICY, band_shares=5_000.0, name="wide"))
    engine = make_engine(books=(("mm-2", wide),))
    tick(engine, 100.0, 0)
    assert orders(client_buys(engine, 1_000, 1, book="mm-2")) == []
    assert [o.policy for o in orders(client_buys(engine, 1_000, 1))] == ["band"]
