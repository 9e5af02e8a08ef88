"""Prices not to trade on, through `hedger run` on a real broker: ticks too old on the wall
clock when handled (a stall, a restart), ticks stamped ahead of this host's clock, and a
price stuck at one value while another underlying moves. Each is counted, shown in
`hedger_price_blocked`, and sends nothing until a good tick comes."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import msgspec
import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.events import PriceTick
from tests.integration.harness import (
    Producer,
    child_hedger,
    has_book,
    hedger_settings,
    metric,
    read_all,
    wait_committed,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

MAX_AGE_MS = 2_000


async def test_late_and_skewed_ticks_send_nothing_until_a_tick_on_time(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, max_tick_age_ms=MAX_AGE_MS
    )
    async with Producer(kafka_bootstrap) as feed, child_hedger(settings):
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        await wait_until(lambda: has_book(settings, "mm-1"))
        now_ms = int(time.time() * 1000)
        # Waited 15 s behind a stall before it was handled:
        await _send_tick(feed, settings, mm.tick(100.0, 0), now_ms - 15_000)
        await wait_committed(settings, 2)
        late = await _untrusted(settings, "late_tick")
        after_late = await read_all(kafka_bootstrap, settings.orders_topic)
        # Stamped by a host whose clock runs a minute ahead:
        await _send_tick(feed, settings, mm.tick(100.1, 1), now_ms + 60_000)
        await wait_committed(settings, 3)
        skewed = await _untrusted(settings, "clock_skew")
        after_skewed = await read_all(kafka_bootstrap, settings.orders_topic)
        await _send_tick(feed, settings, mm.tick(100.2, 2), None)  # on time
        await wait_committed(settings, 4)
        trusted = await _untrusted(settings, "clock_skew")
        orders = await read_all(kafka_bootstrap, settings.orders_topic)

    assert late == (1.0, 1.0)  # counted, and XYZ blocked
    assert after_late == []
    assert skewed == (1.0, 1.0)
    assert after_skewed == []
    assert trusted == (1.0, None)  # the block's series is gone
    assert [(o["side"], o["ts"]) for o in orders] == [("sell", mm.tick(100.2, 2).ts_ns)]


# Snapshots off: the restart reads the tick again. A snapshot after every batch: the restart
# starts from one holding the tick, which it does not read again.
RESTART_FROM = {"topics": 0.0, "snapshot": 1e-3}


@pytest.mark.parametrize("restart_from", RESTART_FROM)
async def test_a_restart_does_not_trade_on_a_mark_older_than_the_limit(
    kafka_bootstrap: str, topic_prefix: str, restart_from: str
) -> None:
    """The fill that arrived while the hedger was down waits for a tick on time: the last
    one it knows is older than HEDGER_MAX_TICK_AGE_MS when the rebuilt books are decided."""
    settings = await hedger_settings(
        kafka_bootstrap,
        topic_prefix,
        rate=mm.RATE,
        max_tick_age_ms=MAX_AGE_MS,
        snapshot_interval_s=RESTART_FROM[restart_from],
    )
    async with Producer(kafka_bootstrap) as feed:
        async with child_hedger(settings):
            await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            stamped_s = time.time()
            await _send_tick(feed, settings, mm.tick(100.0, 0), None)
            await wait_committed(settings, 2)
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        # Down long enough for the last tick to be past the limit when the books are decided.
        await asyncio.sleep(max(0.0, stamped_s + MAX_AGE_MS / 1000 + 0.5 - time.time()))
        async with child_hedger(settings):
            await wait_until(lambda: has_book(settings, "mm-1"))
            from_snapshot = await metric(settings, "hedger_rebuild_from_snapshot")
            blocked = await _untrusted(settings, "late_tick")
            at_start = await read_all(kafka_bootstrap, settings.orders_topic)
            await _send_tick(feed, settings, mm.tick(100.0, 1), None)
            await wait_committed(settings, 3)
            orders = await read_all(kafka_bootstrap, settings.orders_topic)

    assert from_snapshot == (restart_from == "snapshot")
    assert blocked[1] == 1.0
    assert at_start == []
    assert [(o["side"], o["ts"]) for o in orders] == [("sell", mm.tick(100.0, 1).ts_ns)]


async def test_a_price_stuck_while_another_moves_sends_nothing_until_it_moves(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix, rate=mm.RATE, stuck_price_s=60)
    async with Producer(kafka_bootstrap) as feed, child_hedger(settings):
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        for second in range(0, 75, 5):  # XYZ repeats 100.00; ABC moves
            await _send_tick(feed, settings, mm.tick(100.0, second), None)
            abc = msgspec.structs.replace(mm.tick(50.0 + second / 100, second), symbol="ABC")
            await _send_tick(feed, settings, abc, None)
        late_fill = dataclasses.replace(
            mm.client_buys_calls(), fill_id="C-70", ts_ns=mm.tick(100.0, 70).ts_ns
        )
        await feed.send(settings.fills_topic, encode_fill(late_fill), "mm-1")
        await wait_until(lambda: has_book(settings, "mm-1"))
        stuck = await _untrusted(settings, "stuck_price")
        refused = await metric(settings, "hedger_order_refusals_total", reason="stuck_price")
        while_stuck = await read_all(kafka_bootstrap, settings.orders_topic)
        await _send_tick(feed, settings, mm.tick(100.05, 75), None)
        await wait_committed(settings, 1 + 30 + 1)
        orders = await read_all(kafka_bootstrap, settings.orders_topic)

    assert stuck[1] == 1.0
    assert (refused or 0) >= 1
    assert while_stuck == []
    assert [(o["side"], o["ts"]) for o in orders] == [("sell", mm.tick(100.05, 75).ts_ns)]


async def _send_tick(
    feed: Producer, settings: Settings, tick: PriceTick, timestamp_ms: int | None
) -> None:
    await feed.send(settings.prices_topic, encode_tick(tick), tick.symbol, timestamp_ms)


async def _untrusted(settings: Settings, problem: str) -> tuple[float | None, float | None]:
    """(ticks counted with `problem`, XYZ's `hedger_price_blocked` series for it)."""
    counted = await metric(settings, "hedger_untimely_ticks_total", problem=problem)
    blocked = await metric(settings, "hedger_price_blocked", underlying="XYZ", reason=problem)
    return counted, blocked
