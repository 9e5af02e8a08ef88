"""The hedger end to end on a real broker: the market-maker example, bad input, duplicates."""

from __future__ import annotations

import math
import time

import orjson
import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.runtime import HedgerService
from producers.execution import CostModel
from tests.integration.harness import (
    Producer,
    books,
    has_book,
    hedger_settings,
    metric,
    read_all,
    read_messages,
    read_topic,
    running_exchange,
    running_hedger,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def example_settings(kafka_bootstrap: str, topic_prefix: str) -> Settings:
    return await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, band_shares=100.0, lot_size=100.0
    )


async def send_position(feed: Producer, settings: Settings) -> None:
    await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
    await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")


async def settled(service: HedgerService) -> bool:
    return await service.caught_up() and not service.engine.working_orders()


async def hedge_fills_scraped(settings: Settings, labels: dict[str, str], count: int) -> bool:
    return await metric(settings, "hedger_hedge_fills", **labels) == count


async def test_market_maker_example_sells_6000_then_500_and_costs_100(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await example_settings(kafka_bootstrap, topic_prefix)
    async with (
        running_hedger(settings) as service,
        running_exchange(settings, CostModel(commission_per_order=50.0)),
        Producer(kafka_bootstrap) as feed,
    ):
        await send_position(feed, settings)
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        (first,) = await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        await wait_until(lambda: settled(service))
        await feed.send(settings.prices_topic, encode_tick(mm.tick(102.0, 60)), "XYZ")
        orders = await read_messages(kafka_bootstrap, settings.orders_topic, 2)
        labels = {"book": "mm-1", "underlying": "XYZ"}
        await wait_until(lambda: hedge_fills_scraped(settings, labels, 2))
        cost = await metric(settings, "hedger_hedging_cost", **labels)
        fees = await metric(settings, "hedger_hedge_fees", **labels)
        delta = await metric(settings, "hedger_delta_exposure", **labels)

    assert [(o["book"], o["symbol"], o["side"], o["qty"]) for o in orders] == [
        ("mm-1", "XYZ", "sell", 6000),
        ("mm-1", "XYZ", "sell", 500),
    ]
    assert first["ref_price"] == 100.0
    assert first["delta_before"] == pytest.approx(6000.0, abs=0.5)
    assert cost == 100.0
    assert fees == 100.0
    assert delta is not None
    assert abs(delta) < 1.0


async def latency_observed(settings: Settings, count: int) -> bool:
    return await metric(settings, "hedger_tick_to_order_latency_seconds_count") == count


async def test_tick_to_order_latency_counts_from_the_tick_records_timestamp(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """A tick that reached the broker 2 s before the hedger fetched it is 2 s late, not the
    milliseconds from fetch to order: the clock starts at the record's CreateTime."""
    settings = await example_settings(kafka_bootstrap, topic_prefix)
    waited_s = 2.0
    async with running_hedger(settings), Producer(kafka_bootstrap) as feed:
        await send_position(feed, settings)
        # The position first: a tick handled before the fill would leave the order to the
        # fill, which has no tick behind it to time.
        await wait_until(lambda: has_book(settings, "mm-1"))
        created_ms = int((time.time() - waited_s) * 1000)
        tick = encode_tick(mm.tick(100.0, 0))
        await feed.send(settings.prices_topic, tick, "XYZ", timestamp_ms=created_ms)
        await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        await wait_until(lambda: latency_observed(settings, 1))
        total_s = await metric(settings, "hedger_tick_to_order_latency_seconds_sum")

    assert total_s is not None
    assert waited_s <= total_s < waited_s + 5.0


async def test_bad_input_goes_to_dlq_with_reason_and_valid_input_after_it_is_used(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await example_settings(kafka_bootstrap, topic_prefix)
    nan_tick = b'{"type":"tick","symbol":"XYZ","ts":1,"bid":NaN,"ask":100.0}'
    nan_string = orjson.dumps({"type": "tick", "symbol": "XYZ", "ts": 1, "bid": "NaN", "ask": 1})
    no_qty = orjson.loads(encode_fill(mm.client_buys_calls()))
    del no_qty["qty"]
    async with running_hedger(settings), Producer(kafka_bootstrap) as feed:
        await feed.send(settings.prices_topic, b"\x00\xffgarbage", "XYZ")
        await feed.send(settings.prices_topic, nan_tick, "XYZ")
        await feed.send(settings.prices_topic, nan_string, "XYZ")
        await feed.send(settings.fills_topic, orjson.dumps(no_qty), "mm-1")
        await send_position(feed, settings)
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        (order,) = await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        dead = await read_topic(kafka_bootstrap, settings.dlq_topic, 4)
        invalid = await metric(settings, "hedger_invalid_messages_total")
        dead_fills = await metric(
            settings,
            "hedger_invalid_messages_total",
            topic=settings.fills_topic,
            reason="missing_field",
        )

    reasons = sorted(
        (dict(r.headers)["source_topic"].decode(), dict(r.headers)["reason"].decode()) for r in dead
    )
    assert reasons == sorted(
        [
            (settings.prices_topic, "not_json"),
            (settings.prices_topic, "not_json"),
            (settings.prices_topic, "bad_value"),
            (settings.fills_topic, "missing_field"),
        ]
    )
    assert {r.value for r in dead} >= {b"\x00\xffgarbage", nan_tick, nan_string}
    assert all(
        b"qty" in dict(r.headers)["detail"]
        for r in dead
        if r.topic and dict(r.headers)["reason"] == b"missing_field"
    )
    assert (order["side"], order["qty"]) == ("sell", 6000)
    assert invalid == 4.0
    assert dead_fills == 1.0


async def test_duplicate_fill_has_no_second_effect(kafka_bootstrap: str, topic_prefix: str) -> None:
    settings = await example_settings(kafka_bootstrap, topic_prefix)
    async with running_hedger(settings) as service, Producer(kafka_bootstrap) as feed:
        await send_position(feed, settings)
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        await wait_until(service.caught_up)
        state = await books(settings)
        orders = await read_all(kafka_bootstrap, settings.orders_topic)

    assert [(o["side"], o["qty"]) for o in orders] == [("sell", 6000)]
    (exposure,) = state["exposures"]
    # One 10,000-call position at delta 0.60, not two.
    assert math.isclose(exposure["delta"], 6000.0, abs_tol=0.5)
    assert exposure["working_shares"] == -6000.0
