"""Engaging a kill switch cancels the hedge orders working in its scope."""

from __future__ import annotations

import dataclasses

from hedger.codec import decode_order, encode_order
from hedger.config import Settings
from hedger.core.actions import CancelHedgeOrder, SubmitHedgeOrder
from hedger.core.engine import HedgeEngine
from hedger.core.events import KillSwitchSet, RecoveryCompleted
from tests.scenarios import market_maker as mm

SETTINGS = Settings(rate=mm.RATE, band_shares=100.0, lot_size=100.0)
KILL_NS = mm.START_NS + 5 * mm.SECOND


def two_books_working(live: bool = True) -> tuple[HedgeEngine, dict[str, str]]:
    """mm-1 and mm-2 each with the example's opening hedge working (nothing fills)."""
    engine = HedgeEngine(SETTINGS.engine_config())
    if live:
        engine.handle(RecoveryCompleted(0))
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    engine.handle(dataclasses.replace(mm.client_buys_calls(), fill_id="C-2", book="mm-2"))
    sent = engine.handle(mm.tick(100.0, 0))
    return engine, {a.book: a.order_id for a in sent if isinstance(a, SubmitHedgeOrder)}


def working_shares(engine: HedgeEngine, book: str) -> float:
    return next(e.working_shares for e in engine.exposures() if e.book == book)


def test_a_book_kill_switch_cancels_that_books_working_orders_only():
    engine, ids = two_books_working()
    actions = engine.handle(KillSwitchSet("mm-1", True, KILL_NS, "ops"))
    assert actions == [CancelHedgeOrder(ids["mm-1"], "mm-1", "XYZ", KILL_NS, "kill_switch")]
    assert set(engine.working_orders()) == {ids["mm-2"]}
    assert working_shares(engine, "mm-1") == 0.0
    assert working_shares(engine, "mm-2") == -6000.0


def test_the_all_books_switch_cancels_every_working_order():
    engine, ids = two_books_working()
    actions = engine.handle(KillSwitchSet("*", True, KILL_NS, "ops"))
    assert sorted(a.order_id for a in actions if isinstance(a, CancelHedgeOrder)) == sorted(
        ids.values()
    )
    assert engine.working_orders() == {}


def test_releasing_a_switch_cancels_nothing():
    engine, _ = two_books_working()
    assert engine.handle(KillSwitchSet("mm-1", False, KILL_NS, "ops")) == []
    assert len(engine.working_orders()) == 2


def test_a_switch_replayed_while_rebuilding_cancels_nothing():
    rebuilding = HedgeEngine(SETTINGS.engine_config())  # no RecoveryCompleted yet
    for order in _opening_orders():  # read back from the order topic
        rebuilding.handle(decode_order(encode_order(order)))
    assert rebuilding.working_orders()
    assert rebuilding.handle(KillSwitchSet("*", True, KILL_NS, "ops")) == []
    assert rebuilding.working_orders()


def _opening_orders() -> list[SubmitHedgeOrder]:
    engine = HedgeEngine(SETTINGS.engine_config())
    engine.handle(RecoveryCompleted(0))
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    return [a for a in engine.handle(mm.tick(100.0, 0)) if isinstance(a, SubmitHedgeOrder)]
