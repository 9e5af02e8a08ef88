"""Pre-trade controls through the engine: each refuses with its reason and fails closed.

Books and helpers: `tests.scenarios.deep_calls` (a book's delta is its deep calls).
"""

from __future__ import annotations

import math

import pytest

from hedger.core.controls import BookLimits, ControlLimits, KillMode, OrderType
from hedger.core.engine import HedgeEngine
from hedger.core.events import FillReport, KillSwitchSet, QuoteCrossed, Side
from hedger.core.price_guard import GuardLimits
from tests.scenarios.deep_calls import (
    SECOND,
    T0,
    client_buys,
    denials,
    fill,
    make_engine,
    orders,
    tick,
)


def test_controls_without_refusal_sell_back_the_client_shares():
    engine = make_engine()
    tick(engine, 100.0, 0)
    sent = orders(client_buys(engine, 1_000, 1))
    assert [(o.side, o.qty, o.reason, o.trigger) for o in sent] == [
        (Side.SELL, 1_000, "band", f"fill:C-mm-1-{T0 + SECOND}-1000")
    ]


def test_kill_switch_for_a_book_stops_it_and_not_others_until_released():
    engine = make_engine()
    tick(engine, 100.0, 0)
    engine.handle(KillSwitchSet("mm-1", True, T0, "ops"))
    assert denials(client_buys(engine, 1_000, 1)) == ["kill_switch"]
    assert len(orders(client_buys(engine, 1_000, 1, book="mm-2"))) == 1
    engine.handle(KillSwitchSet("mm-1", False, T0, "ops"))
    assert [o.qty for o in orders(tick(engine, 100.0, 2))] == [1_000]


def test_kill_switch_for_all_books_stops_every_book():
    engine = make_engine()
    tick(engine, 100.0, 0)
    engine.handle(KillSwitchSet("*", True, T0, "ops"))
    assert denials(client_buys(engine, 1_000, 1)) == ["kill_switch"]
    assert denials(client_buys(engine, 1_000, 1, book="mm-2")) == ["kill_switch"]


def test_kill_switch_reduce_only_lets_an_unwinding_order_through_and_stops_the_rest():
    engine = make_engine(controls=ControlLimits(kill_mode=KillMode.REDUCE_ONLY))
    tick(engine, 100.0, 0)
    hedge = orders(client_buys(engine, 1_000, 1))  # sells 1,000: hedge position −1,000
    fill(engine, hedge[0], 100.0)
    engine.handle(KillSwitchSet("*", True, T0, "ops"))
    # The book sells 400 calls: net delta −400, and buying 400 back shrinks both the delta
    # and the hedge position (−1,000 → −600): allowed.
    assert [(o.side, o.qty) for o in orders(client_buys(engine, -400, 3))] == [(Side.BUY, 400)]
    # The book buys 600 more: selling 600 would grow the hedge position: refused.
    assert denials(client_buys(engine, 600, 5)) == ["kill_switch"]


def test_stale_price_no_tick_within_the_limit_refuses():
    engine = make_engine(controls=ControlLimits(guard=GuardLimits(stale_after_ns=10 * SECOND)))
    tick(engine, 100.0, 0)
    actions = client_buys(engine, 1_000, 10.5)
    assert denials(actions) == ["stale_price"]
    assert len(orders(tick(engine, 100.0, 11))) == 1  # a fresh tick: hedged


def test_price_jump_freezes_until_confirming_ticks_then_hedges():
    engine = make_engine(controls=ControlLimits(guard=GuardLimits(confirm_ticks=3)))
    tick(engine, 100.0, 0)
    client_buys(engine, 100, 1)  # inside the band: nothing to do yet
    # A 25% jump, then the book's delta moves out of band on the same underlying.
    assert tick(engine, 125.0, 2) == []
    assert denials(client_buys(engine, 1_000, 3)) == ["price_frozen"]
    assert denials(tick(engine, 125.5, 4)) == ["price_frozen"]
    assert denials(tick(engine, 125.2, 5)) == ["price_frozen"]
    assert [o.qty for o in orders(tick(engine, 125.1, 6))] == [1_100]


def test_price_jump_that_jumps_again_restarts_the_confirmation():
    engine = make_engine(controls=ControlLimits(guard=GuardLimits(confirm_ticks=2)))
    tick(engine, 100.0, 0)
    tick(engine, 125.0, 1)
    client_buys(engine, 1_000, 1.5)
    tick(engine, 125.0, 2)  # one confirmation
    assert denials(tick(engine, 100.0, 3)) == ["price_frozen"]  # jumps back: count restarts
    assert denials(tick(engine, 100.0, 4)) == ["price_frozen"]
    assert len(orders(tick(engine, 100.0, 5))) == 1


def test_crossed_quote_freezes_until_confirming_ticks():
    engine = make_engine(controls=ControlLimits(guard=GuardLimits(confirm_ticks=2)))
    tick(engine, 100.0, 0)
    engine.handle(QuoteCrossed("XYZ", T0 + SECOND))
    assert denials(client_buys(engine, 1_000, 1.5)) == ["price_frozen"]
    assert denials(tick(engine, 100.0, 2)) == ["price_frozen"]
    assert len(orders(tick(engine, 100.0, 3))) == 1


def test_loss_limit_book_pnl_below_the_limit_refuses():
    limits = BookLimits(loss_limit=5_000.0)
    engine = make_engine(limits=limits)
    tick(engine, 100.0, 0)
    hedge = orders(client_buys(engine, 1_000, 1))  # calls worth 99 bought at 99, hedged
    fill(engine, hedge[0], 100.0)
    # The mark falls to 97: the hedged book is flat. Then 2,000 more calls, worth 96, are
    # bought at 99: P&L −6,000, below −5,000.
    tick(engine, 97.0, 2)
    actions = client_buys(engine, 2_000, 3, price=99.0)
    assert denials(actions) == ["loss_limit"]


@pytest.mark.parametrize(
    ("limits", "reason"),
    [
        (BookLimits(max_order_shares=999.0), "max_order_shares"),
        (BookLimits(max_order_notional=99_999.0), "max_order_notional"),
        (BookLimits(max_position_shares=999.0), "max_position"),
    ],
)
def test_order_size_notional_and_position_limits_refuse_an_order_over_them(limits, reason):
    engine = make_engine(limits=limits)
    tick(engine, 100.0, 0)
    actions = client_buys(engine, 1_000, 1)  # a sale of 1,000 at 100: 100,000 notional
    assert denials(actions) == [reason]
    assert orders(actions) == []


def test_max_position_counts_working_orders_and_lets_a_shrinking_order_through():
    engine = make_engine(limits=BookLimits(max_position_shares=1_500.0))
    tick(engine, 100.0, 0)
    assert len(orders(client_buys(engine, 1_000, 1))) == 1  # working: −1,000
    # 1,000 more to sell: −2,000 with the working order, over 1,500.
    assert denials(client_buys(engine, 1_000, 3)) == ["max_position"]
    # The book sells 2,000 calls: buying back 1,000 shrinks the position: allowed.
    assert len(orders(client_buys(engine, -2_000, 5))) == 1


def test_price_collar_one_move_over_the_collar_waits_for_a_second_tick():
    engine = make_engine(controls=ControlLimits(price_collar=0.05))
    tick(engine, 100.0, 0)
    # 7%: under the 10% jump threshold (no freeze) but over the 5% collar.
    assert tick(engine, 107.0, 1) == []
    assert denials(client_buys(engine, 1_000, 1.5)) == ["price_collar"]
    # A second tick at the new level makes 107 the last good mark.
    assert [o.qty for o in orders(tick(engine, 107.1, 2))] == [1_000]


DAY = 24 * 3600  # seconds


def test_a_daily_close_as_far_off_as_an_index_worst_day_is_hedged_not_frozen():
    engine = make_engine()  # default controls: 10% jump, 5% collar, over up to 4 hours
    tick(engine, 100.0, 0)
    # The next close, 11.6% lower: over a day both thresholds are sqrt(6) = 2.449 wider.
    assert tick(engine, 88.4, DAY) == []
    assert [o.qty for o in orders(client_buys(engine, 1_000, DAY + 1))] == [1_000]


def test_the_same_move_within_the_hour_freezes_and_a_misplaced_decimal_a_day_later_too():
    engine = make_engine()
    tick(engine, 100.0, 0)
    tick(engine, 88.4, 3600)
    assert denials(client_buys(engine, 1_000, 3601)) == ["price_frozen"]
    engine = make_engine()
    tick(engine, 100.0, 0)
    tick(engine, 1000.0, DAY)
    assert denials(client_buys(engine, 1_000, DAY + 1)) == ["price_frozen"]


def test_thresholds_that_never_widen_hold_a_day_to_the_tick_limits():
    guard = GuardLimits(move_horizon_ns=0)
    engine = make_engine(controls=ControlLimits(guard=guard))
    tick(engine, 100.0, 0)
    tick(engine, 88.4, DAY)
    assert denials(client_buys(engine, 1_000, DAY + 1)) == ["price_frozen"]
    engine = make_engine(controls=ControlLimits(guard=guard))
    tick(engine, 100.0, 0)
    tick(engine, 107.0, DAY)  # under the jump threshold, over the collar
    assert denials(client_buys(engine, 1_000, DAY + 1)) == ["price_collar"]


def test_limit_orders_carry_a_limit_price_on_the_worse_side_of_the_mark():
    controls = ControlLimits(order_type=OrderType.LIMIT, limit_offset=0.002)
    engine = make_engine(controls=controls)
    tick(engine, 100.0, 0)
    sale = orders(client_buys(engine, 1_000, 1))[0]
    assert sale.limit_price == pytest.approx(99.8, rel=1e-12)
    purchase = orders(client_buys(engine, -3_000, 1, book="mm-2"))[0]
    assert purchase.limit_price == pytest.approx(100.2, rel=1e-12)


def test_market_orders_have_no_limit_price():
    engine = make_engine()
    tick(engine, 100.0, 0)
    assert orders(client_buys(engine, 1_000, 1))[0].limit_price is None


def unpriced_engine(loss_limit: float) -> HedgeEngine:
    """A book holding ABC shares, which has no tick yet: its P&L cannot be known."""
    engine = make_engine(limits=BookLimits(loss_limit=loss_limit))
    engine.handle(FillReport("C-ABC", "mm-1", "ABC", Side.BUY, 100, 50.0, T0))
    tick(engine, 100.0, 0)
    return engine


def test_loss_limit_unknown_pnl_fails_closed():
    assert denials(client_buys(unpriced_engine(1_000_000.0), 1_000, 1)) == ["loss_limit"]


def test_loss_limit_none_configured_does_not_need_the_pnl():
    assert len(orders(client_buys(unpriced_engine(math.inf), 1_000, 1))) == 1
