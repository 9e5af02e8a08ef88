"""The hedge engine with no broker: events in, actions out."""

from __future__ import annotations

import dataclasses

import pytest

from hedger.core.actions import InputRejected, SubmitHedgeOrder
from hedger.core.decisions import derive_order_id
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import FillReport, HedgeOrderRecorded, RecoveryCompleted, Side
from hedger.core.policy import BandPolicy
from tests.scenarios import market_maker as mm

CONFIG = EngineConfig(
    policy=BandPolicy(band_shares=100, lot_size=1, min_interval_ns=mm.SECOND),
    rate=mm.RATE,
    commission_per_share=0.0,
)


def live_engine(config: EngineConfig = CONFIG) -> HedgeEngine:
    engine = HedgeEngine(config)
    engine.handle(RecoveryCompleted(mm.START_NS))
    return engine


def orders(actions: list[object]) -> list[SubmitHedgeOrder]:
    return [a for a in actions if isinstance(a, SubmitHedgeOrder)]


def hedge_fill(order: SubmitHedgeOrder, price: float, fee: float = 50.0) -> FillReport:
    return FillReport(
        fill_id=f"PX-{order.order_id}",
        book=order.book,
        instrument=order.symbol,
        side=order.side,
        qty=order.qty,
        price=price,
        ts_ns=order.ts_ns + 1,
        order_id=order.order_id,
        fee=fee,
    )


def run_market_maker_example(engine: HedgeEngine) -> list[SubmitHedgeOrder]:
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    first = orders(engine.handle(mm.tick(100.0, 0)))
    engine.handle(hedge_fill(first[0], 100.0))
    second = orders(engine.handle(mm.tick(102.0, 60)))
    engine.handle(hedge_fill(second[0], 102.0))
    return first + second


def test_engine_market_maker_example_sells_6000_then_500():
    engine = live_engine()
    sent = run_market_maker_example(engine)
    assert [(o.side, o.qty) for o in sent] == [(Side.SELL, 6000), (Side.SELL, 500)]
    assert sent[0].delta_before == pytest.approx(6000, abs=0.01)
    (exposure,) = list(engine.exposures())
    assert exposure.shares == -6500
    assert exposure.fees == 100.0
    assert exposure.hedging_cost == 100.0
    assert abs(exposure.delta) < 1.0


def test_engine_working_order_counts_so_delta_is_not_hedged_twice():
    engine = live_engine()
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    first = orders(engine.handle(mm.tick(100.0, 0)))
    again = orders(engine.handle(mm.tick(100.01, 5)))
    assert len(first) == 1
    assert again == []
    (exposure,) = list(engine.exposures())
    assert exposure.working_shares == -6000


def test_engine_duplicate_fill_has_no_second_effect():
    engine = live_engine()
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    engine.handle(mm.client_buys_calls())
    first = orders(engine.handle(mm.tick(100.0, 0)))
    assert first[0].qty == 6000


def test_engine_duplicate_tick_has_no_second_effect():
    engine = live_engine()
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    assert len(orders(engine.handle(mm.tick(100.0, 0)))) == 1
    engine.handle(hedge_fill(orders(engine.handle(mm.tick(102.0, 60)))[0], 102.0))
    assert engine.handle(mm.tick(102.0, 60)) == []


def test_engine_before_recovery_completes_sends_nothing():
    engine = HedgeEngine(CONFIG)
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    assert engine.handle(mm.tick(100.0, 0)) == []
    assert (
        len(
            orders(engine.handle(RecoveryCompleted(mm.START_NS)) + engine.handle(mm.tick(100.0, 1)))
        )
        == 1
    )


def test_engine_rebuilt_from_recorded_orders_and_fills_equals_the_original():
    original = live_engine()
    sent = run_market_maker_example(original)
    third = orders(original.handle(mm.tick(105.0, 120)))
    rebuilt = HedgeEngine(CONFIG)
    rebuilt.handle(mm.vol())
    for order in sent + third:
        rebuilt.handle(
            HedgeOrderRecorded(
                order.order_id,
                order.book,
                order.symbol,
                order.side,
                order.qty,
                order.ts_ns,
                order.ref_price,
            )
        )
    for fill in [mm.client_buys_calls(), hedge_fill(sent[0], 100.0), hedge_fill(sent[1], 102.0)]:
        rebuilt.handle(fill)
    rebuilt.handle(RecoveryCompleted(mm.START_NS))
    rebuilt.handle(mm.tick(105.0, 120))
    assert list(rebuilt.exposures()) == list(original.exposures())
    assert rebuilt.working_orders().keys() == {third[0].order_id}
    # Re-processing the tick that triggered the working order sends nothing new.
    assert orders(rebuilt.handle(mm.tick(105.0, 121))) == []


def test_engine_order_ids_are_deterministic_across_runs():
    first = [o.order_id for o in run_market_maker_example(live_engine())]
    second = [o.order_id for o in run_market_maker_example(live_engine())]
    assert first == second
    assert len(set(first)) == 2
    assert first[0] == derive_order_id("mm-1", "XYZ", f"tick:XYZ:{mm.START_NS}")


def test_engine_min_interval_defers_a_second_order():
    config = dataclasses.replace(
        CONFIG, policy=BandPolicy(band_shares=100, lot_size=1, min_interval_ns=600 * mm.SECOND)
    )
    engine = live_engine(config)
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    first = orders(engine.handle(mm.tick(100.0, 0)))
    engine.handle(hedge_fill(first[0], 100.0))
    assert orders(engine.handle(mm.tick(102.0, 60))) == []
    assert len(orders(engine.handle(mm.tick(102.0, 601)))) == 1


def test_engine_slippage_is_cost_positive_against_arrival_mark():
    engine = live_engine()
    engine.handle(mm.vol())
    engine.handle(mm.client_buys_calls())
    (order,) = orders(engine.handle(mm.tick(100.0, 0)))
    engine.handle(hedge_fill(order, 99.95, fee=0.0))  # sold 6,000 five cents below the mark
    (exposure,) = list(engine.exposures())
    assert exposure.slippage == pytest.approx(300.0)


def test_engine_unconfigured_underlying_is_rejected():
    config = dataclasses.replace(CONFIG, underlyings=frozenset({"ABC"}))
    engine = live_engine(config)
    (action,) = engine.handle(mm.tick(100.0, 0))
    assert isinstance(action, InputRejected)
    assert action.kind == "unknown_instrument"


def test_engine_fill_of_expired_option_is_rejected():
    engine = live_engine()
    late = dataclasses.replace(mm.client_buys_calls(), ts_ns=mm.EXPIRY_NS + 1)
    (action,) = engine.handle(late)
    assert isinstance(action, InputRejected)
    assert action.kind == "expired_option"


def test_engine_values_a_fill_read_after_later_ticks_at_their_time_whatever_the_order():
    fill = dataclasses.replace(mm.client_buys_calls(), ts_ns=mm.START_NS + 1800 * mm.SECOND)
    in_time, late = HedgeEngine(CONFIG), HedgeEngine(CONFIG)
    for engine, events in (
        (in_time, [mm.vol(), mm.tick(100.0, 0), fill, mm.tick(100.0, 3600)]),
        (late, [mm.vol(), mm.tick(100.0, 0), mm.tick(100.0, 3600), fill]),
    ):
        for event in events:
            engine.handle(event)
    at_the_fill = HedgeEngine(CONFIG)
    for event in (mm.vol(), mm.tick(100.0, 0), fill):
        at_the_fill.handle(event)

    (in_time_delta,) = [e.delta for e in in_time.exposures()]
    (late_delta,) = [e.delta for e in late.exposures()]
    (fill_time_delta,) = [e.delta for e in at_the_fill.exposures()]
    assert late_delta == pytest.approx(in_time_delta, rel=1e-12)
    # Half an hour of the call's delta drift: what valuing at the fill's own time would show.
    assert abs(fill_time_delta - in_time_delta) > 1e-3
