"""The notional cap through `hedger run` on a real broker, across a restart: what all books
sent in the last minute of event time, read back from the order topic, still counts."""

from __future__ import annotations

import pytest

from hedger.codec import encode_fill, encode_tick
from hedger.core.events import FillReport, PriceTick, Side
from tests.integration.harness import (
    Producer,
    child_hedger,
    handled_everything,
    hedger_settings,
    metric,
    read_all,
    wait_committed,
    wait_until,
)
from tests.scenarios.deep_calls import DEEP_CALL, SECOND, T0

pytestmark = pytest.mark.broker

CAP = 1_000_000.0  # all books, any 60 s of event time; each order below is 600,000


def tick(seconds: float) -> PriceTick:
    return PriceTick("XYZ", T0 + round(seconds * SECOND), 99.99, 100.01, None, 100.0)


def client_buys(calls: int, seconds: float) -> FillReport:
    ts = T0 + round(seconds * SECOND)
    return FillReport(f"C-{seconds}", "mm-1", DEEP_CALL, Side.BUY, calls, 99.0, ts)


async def test_the_minute_cap_holds_across_a_restart(kafka_bootstrap: str, topic_prefix: str):
    settings = await hedger_settings(
        kafka_bootstrap,
        topic_prefix,
        default_multiplier=1.0,
        total_notional_per_minute=CAP,
    )
    async with Producer(kafka_bootstrap) as feed:
        async with child_hedger(settings):
            await feed.send(settings.prices_topic, encode_tick(tick(0)), "XYZ")
            await wait_committed(settings, 1)  # the mark first: the first fill trades on it
            await feed.send(settings.fills_topic, encode_fill(client_buys(6_000, 1)), "mm-1")
            await feed.send(settings.fills_topic, encode_fill(client_buys(6_000, 5)), "mm-1")
            await wait_until(lambda: handled_everything(settings))
            await feed.send(settings.prices_topic, encode_tick(tick(6)), "XYZ")
            await wait_until(lambda: handled_everything(settings))
            refused = await metric(
                settings, "hedger_order_refusals_total", reason="notional_cap_total"
            )
        before_restart = await read_all(kafka_bootstrap, settings.orders_topic)
        async with child_hedger(settings):
            await feed.send(settings.prices_topic, encode_tick(tick(30)), "XYZ")
            await wait_committed(settings, 3)
            after_restart = await read_all(kafka_bootstrap, settings.orders_topic)
            await feed.send(settings.prices_topic, encode_tick(tick(62)), "XYZ")
            await wait_committed(settings, 4)
        sent = await read_all(kafka_bootstrap, settings.orders_topic)

    assert [(o["side"], o["qty"]) for o in before_restart] == [("sell", 6_000)]
    assert (refused or 0) >= 1
    assert after_restart == before_restart  # the restart did not reopen the minute
    assert [(o["side"], o["qty"], (o["ts"] - T0) // SECOND) for o in sent] == [
        ("sell", 6_000, 1),
        ("sell", 6_000, 62),
    ]
