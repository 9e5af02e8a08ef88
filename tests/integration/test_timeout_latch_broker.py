"""The timeout latch through `hedger run` on a real broker: a venue that never fills makes
the working-order timeout cancel and re-send; the third timeout latches the book, the latch
is on the control topic, and a restarted hedger still sends nothing for it."""

from __future__ import annotations

import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    Producer,
    books,
    child_hedger,
    hedger_settings,
    read_all,
    wait_committed,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

TIMEOUT_S = 10.0


async def test_the_third_timeout_latches_the_book_and_a_restart_keeps_it_latched(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap,
        topic_prefix,
        rate=mm.RATE,
        working_order_timeout_s=TIMEOUT_S,
        timeout_latch=3,
    )
    async with Producer(kafka_bootstrap) as feed:
        async with child_hedger(settings):
            await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
            sent = 1 + await _send_ticks(feed, settings, range(0, 100))
            await wait_committed(settings, sent)
            state = await books(settings)
        records = await read_all(kafka_bootstrap, settings.orders_topic)
        async with child_hedger(settings):
            sent += await _send_ticks(feed, settings, range(100, 140))
            await wait_committed(settings, sent)
            restarted = await books(settings)
        after_restart = await read_all(kafka_bootstrap, settings.orders_topic)
    controls = await read_all(kafka_bootstrap, settings.control_topic)

    kinds = [record["type"] for record in records]
    # 6,000 shares to sell, never filled: sent, timed out and sent again, three times over.
    assert kinds == ["order", "cancel", "order", "cancel", "order", "cancel"]
    assert {record["reason"] for record in records if record["type"] == "cancel"} == {"timeout"}
    latches = [c for c in controls if c["type"] == "latch"]
    assert [latch["book"] for latch in latches] == ["mm-1"]
    assert "3 working-order timeouts without a hedge fill" in latches[0]["reason"]
    assert "mm-1" in state["latched_books"]
    assert "mm-1" in restarted["latched_books"]
    assert after_restart == records  # nothing more sent after the restart


async def _send_ticks(feed: Producer, settings: Settings, seconds: range) -> int:
    """One tick a second of event time at 100; returns how many were sent."""
    for second in seconds:
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, second)), "XYZ")
    return len(seconds)
