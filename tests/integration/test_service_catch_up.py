"""The live service catching up on a feed already on the topic, on a real broker.

Batches then hold long runs of ticks, which the service hands to `HedgeEngine.handle_ticks`.
What it sends must be what one engine sends handling every input in turn, with the same
event-time timers: the same orders and working-order timeout cancels in the same order,
the same refusals, and every bad record (malformed, or on an underlying not configured)
dead-lettered, wherever it falls in a run.
"""

from __future__ import annotations

from typing import Any

import pytest

from hedger.adapters.delivery import DeliveryMode
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.actions import Action, CancelHedgeOrder, HedgeDenied, SubmitHedgeOrder
from hedger.core.clock import EventTimer
from hedger.core.engine import HedgeEngine
from hedger.core.events import Event, PriceTick, RecoveryCompleted
from tests.integration.harness import (
    Producer,
    has_book,
    metric,
    read_all,
    read_topic,
    running_hedger,
    wait_committed,
    wait_until,
)
from tests.integration.test_hedger_restart import random_walk_ticks, walk_settings
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

TICKS = 1_500
MALFORMED = b'{"type":"tick","symbol":"XYZ","ts":1,"bid":NaN,"ask":100.0}'
# Where bad records go among the ticks: inside runs, and one right after the first tick.
BAD_AT = {1: MALFORMED, 400: MALFORMED, 401: None, 1_100: None}


def unknown_underlying(index: int) -> PriceTick:
    return PriceTick("ABC", mm.START_NS + index * mm.SECOND, 9.99, 10.01, None, 10.0)


async def _settings(bootstrap: str, prefix: str, **overrides: Any) -> Settings:
    """The walk's band on one underlying, orders 2 s apart at least."""
    return await walk_settings(
        bootstrap, prefix, min_interval_ms=2_000, underlyings=frozenset({"XYZ"}), **overrides
    )


def reference(settings: Settings, events: list[Event]) -> tuple[list[Action], HedgeEngine]:
    """What one engine does handling each input in turn, timers as the service fires them,
    and that engine."""
    engine = HedgeEngine(settings.engine_config())
    engine.handle(RecoveryCompleted(0))
    timer = EventTimer(settings.timer_interval_ms * 1_000_000)
    actions: list[Action] = []
    for event in events:
        fired = timer.advance(event.ts_ns)
        if fired is not None:
            actions += engine.handle(fired)
        actions += engine.handle(event)
    return actions, engine


async def test_catching_up_on_a_long_feed_sends_what_handling_each_input_sends(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await _settings(
        kafka_bootstrap, topic_prefix, timer_interval_ms=5_000, working_order_timeout_s=20.0
    )
    ticks = random_walk_ticks(TICKS, 0, seed=5)
    records: list[bytes] = []
    bad_records: list[bytes] = []
    for index, tick in enumerate(ticks):
        if index in BAD_AT:
            bad_records.append(BAD_AT[index] or encode_tick(unknown_underlying(index)))
            records.append(bad_records[-1])
        records.append(encode_tick(tick))
    async with running_hedger(settings), Producer(kafka_bootstrap) as feed:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        await wait_until(lambda: has_book(settings, "mm-1"))
        for record in records:
            await feed.send(settings.prices_topic, record, "XYZ")
        await wait_committed(settings, 1 + len(records))
        refused = await metric(settings, "hedger_order_refusals_total")
        dead = await metric(settings, "hedger_invalid_messages_total")

    events: list[Event] = [mm.vol(), mm.client_buys_calls()]
    for index, tick in enumerate(ticks):
        if index in BAD_AT and BAD_AT[index] is None:
            events.append(unknown_underlying(index))
        events.append(tick)
    expected, _ = reference(settings, events)
    sent = await read_all(kafka_bootstrap, settings.orders_topic)
    assert [(m["type"], m["order_id"], m.get("side"), m.get("qty")) for m in sent] == [
        ("order", a.order_id, a.side.value, a.qty)
        if isinstance(a, SubmitHedgeOrder)
        else ("cancel", a.order_id, None, None)
        for a in expected
        if isinstance(a, SubmitHedgeOrder | CancelHedgeOrder)
    ]
    kinds = {type(a) for a in expected}
    assert {SubmitHedgeOrder, CancelHedgeOrder, HedgeDenied} <= kinds  # the feed exercises all
    assert refused == sum(isinstance(a, HedgeDenied) for a in expected)
    assert dead == len(BAD_AT)
    dead_letters = await read_topic(kafka_bootstrap, settings.dlq_topic, len(BAD_AT))
    assert [(r.value, dict(r.headers)["reason"]) for r in dead_letters] == [
        (record, b"not_json" if record == MALFORMED else b"unknown_instrument")
        for record in records
        if record in bad_records
    ]


async def test_a_catch_up_holding_batches_back_sends_each_order_once_in_order(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """The whole feed on the topic before the service starts, in batches of 50 records:
    exactly once, the batches decided while a transaction commits hold their records and
    offsets back for the next (`CommitSchedule.hold_sends`). A read_committed reader still
    sees what handling each input in turn sends, each order once, in order."""
    settings = await _settings(kafka_bootstrap, topic_prefix, batch_max_records=50)
    ticks = random_walk_ticks(TICKS, 0, seed=7)
    async with Producer(kafka_bootstrap) as feed:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        for tick in ticks:
            await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")
    expected, engine = reference(settings, [mm.vol(), mm.client_buys_calls(), *ticks])
    [book] = [e for e in engine.exposures() if (e.book, e.underlying) == ("mm-1", "XYZ")]
    labels = {"book": "mm-1", "underlying": "XYZ"}

    async def exported_as_of_the_last_input() -> bool:
        delta = await metric(settings, "hedger_delta_exposure", **labels)
        working = await metric(settings, "hedger_working_hedge_shares", **labels)
        return (delta, working) == (pytest.approx(book.delta), book.working_shares)

    async with running_hedger(settings) as service:
        await wait_committed(settings, 1 + len(ticks))
        held = await metric(settings, "hedger_batches_held_total")
        delivery = service.delivery
        # Set at most every 100 ms while catching up: the books as of the last input, once
        # nothing more waits.
        await wait_until(exported_as_of_the_last_input)
    orders = [
        (a.order_id, a.side.value, a.qty) for a in expected if isinstance(a, SubmitHedgeOrder)
    ]
    sent = await read_all(kafka_bootstrap, settings.orders_topic)
    assert [(m["order_id"], m["side"], m["qty"]) for m in sent] == orders
    assert len(orders) > 20  # orders all along the feed, while commits are in flight
    # Only transactions hold anything back; at least once, a batch never waits for a commit.
    assert held is not None
    assert (held > 0) is (delivery is DeliveryMode.EXACTLY_ONCE)
