"""Fills that arrived while the hedger was down: the rebuild stops at the committed offset
and they are handled right after it, as live input (such a fill is hedged at once on the
rebuilt mark, not when its underlying next ticks), and the bad ones are dead-lettered like
any bad input, once."""

from __future__ import annotations

import dataclasses

import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from tests.integration.harness import (
    Producer,
    hedger_settings,
    read_messages,
    read_topic,
    records_now,
    running_hedger,
    wait_committed,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def test_a_fill_booked_while_the_hedger_was_down_is_hedged_on_the_rebuilt_state(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, band_shares=100.0, lot_size=100.0
    )
    tick = mm.tick(100.0, 0)
    async with Producer(kafka_bootstrap) as feed:
        async with running_hedger(settings):
            await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")
            await wait_committed(settings, 2)  # the market is known; no book yet
        # Down: the client trade lands, stamped after the last tick.
        fill = dataclasses.replace(mm.client_buys_calls(), ts_ns=tick.ts_ns + 1)
        await feed.send(settings.fills_topic, encode_fill(fill), "mm-1")
        async with running_hedger(settings):
            # No tick is sent: only the rebuilt state can trigger this order.
            (order,) = await read_messages(kafka_bootstrap, settings.orders_topic, 1)

    assert (order["book"], order["side"], order["qty"]) == ("mm-1", "sell", 6000)
    assert order["trigger"] == f"fill:{fill.fill_id}"
    assert order["ref_price"] == 100.0


async def test_bad_fills_that_arrived_while_the_hedger_was_down_are_dead_lettered_once(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    # The expired fill is stamped after the option's expiry, weeks after it is sent: the
    # time plausibility limit would refuse it first.
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, max_event_ahead_s=0.0
    )
    expired = dataclasses.replace(
        mm.client_buys_calls(), fill_id="C-9", ts_ns=mm.EXPIRY_NS + mm.SECOND
    )
    async with Producer(kafka_bootstrap) as feed:
        async with running_hedger(settings):
            await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
            await feed.send(settings.fills_topic, b"handled while up", "mm-1")
            await read_topic(kafka_bootstrap, settings.dlq_topic, 1)
        await feed.send(settings.fills_topic, b"{arrived while down", "mm-1")
        await feed.send(settings.fills_topic, encode_fill(expired), "mm-1")
        async with running_hedger(settings):
            await read_topic(kafka_bootstrap, settings.dlq_topic, 3)
        letters = await read_topic(kafka_bootstrap, settings.dlq_topic, 3)
        written = len(await records_now(kafka_bootstrap, settings.dlq_topic))

    headers = [dict(letter.headers) for letter in letters]
    assert [(h["reason"], h["source_offset"]) for h in headers] == [
        (b"not_json", b"1"),
        (b"not_json", b"2"),
        (b"expired_option", b"3"),
    ]
    assert written == 3  # none twice: what was handled before is not sent again
