"""A fill id seen again in its book: a redelivery has no effect; other terms under it are a
data error that is refused and latches the book until a person re-arms it. The same id in
another book is another fill, whatever the order the two books' partitions are read in."""

from __future__ import annotations

import dataclasses

from hedger.config import Settings
from hedger.core.actions import HedgeDenied, InputRejected, LatchBook, SubmitHedgeOrder
from hedger.core.engine import HedgeEngine
from hedger.core.events import BookRearmed, FillReport, RecoveryCompleted, Side
from tests.scenarios import market_maker as mm

SETTINGS = Settings(rate=mm.RATE, band_shares=100.0, lot_size=100.0, min_interval_ms=0)


def hedged_engine(live: bool = True) -> HedgeEngine:
    """mm-1 long the example's calls on XYZ at 100, hedged once (when live)."""
    engine = HedgeEngine(SETTINGS.engine_config())
    if live:
        engine.handle(RecoveryCompleted(0))
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    engine.handle(mm.tick(100.0, 0))
    return engine


def orders(actions: list[object]) -> list[SubmitHedgeOrder]:
    return [a for a in actions if isinstance(a, SubmitHedgeOrder)]


def test_a_redelivered_fill_has_no_effect_even_with_a_later_time():
    engine = hedged_engine()
    again = dataclasses.replace(mm.client_buys_calls(), ts_ns=mm.START_NS + 5 * mm.SECOND)
    assert engine.handle(again) == []
    assert engine.controls.switches.latched == {}


def test_a_fill_id_reused_with_another_quantity_is_refused_and_latches_the_book():
    engine = hedged_engine()
    conflicting = dataclasses.replace(mm.client_buys_calls(), qty=mm.CONTRACTS * 2)
    delta_before = next(e.delta for e in engine.exposures())

    actions = engine.handle(conflicting)

    (refusal, latch) = actions
    assert isinstance(refusal, InputRejected)
    assert refusal.kind == "conflicting_fill"
    assert "'C-1' seen before with other terms" in refusal.detail
    assert latch == LatchBook("mm-1", conflicting.ts_ns, refusal.detail)
    assert next(e.delta for e in engine.exposures()) == delta_before  # not booked
    assert "mm-1" in engine.controls.switches.latched
    later = engine.handle(mm.tick(102.0, 60))  # would sell 500 more
    assert orders(later) == []
    assert [a.reason for a in later if isinstance(a, HedgeDenied)] == ["latched"]


def test_a_fill_id_seen_in_another_book_is_another_fill_booked_without_latching():
    engine = hedged_engine()
    other_book = dataclasses.replace(mm.client_buys_calls(), book="mm-2", qty=10)
    engine.handle(other_book)
    assert engine.positions()[("mm-2", mm.CALL.occ_symbol)] == 10
    assert engine.controls.switches.latched == {}


def test_a_fill_id_in_two_books_books_the_same_whatever_the_order_of_their_partitions():
    mm_1 = FillReport("F-1", "mm-1", "XYZ", Side.BUY, 100, 100.0, mm.START_NS)
    mm_2 = FillReport("F-1", "mm-2", "ABC", Side.SELL, 300, 50.0, mm.START_NS + 1)
    one, other = HedgeEngine(SETTINGS.engine_config()), HedgeEngine(SETTINGS.engine_config())
    for fill in (mm_1, mm_2):
        one.handle(fill)
    for fill in (mm_2, mm_1):
        other.handle(fill)
    assert one.positions() == other.positions() == {("mm-1", "XYZ"): 100, ("mm-2", "ABC"): -300}


def test_a_rearmed_book_hedges_again():
    engine = hedged_engine()
    engine.handle(dataclasses.replace(mm.client_buys_calls(), price=1.0))
    engine.handle(BookRearmed("mm-1", mm.START_NS + mm.SECOND, "ops"))
    (order,) = orders(engine.handle(mm.tick(102.0, 60)))
    assert (order.side.value, order.qty) == ("sell", 500)


def test_while_rebuilding_the_conflict_is_reported_but_the_latch_is_left_to_the_control_topic():
    engine = hedged_engine(live=False)
    actions = engine.handle(dataclasses.replace(mm.client_buys_calls(), qty=1))
    assert [type(a) for a in actions] == [InputRejected, LatchBook]
    assert engine.controls.switches.latched == {}
