"""Whatever the pace a feed arrives at, the live service decides what it decides on the
feed already on the topics: each fill is booked against the market of its own time, never
an older one (docs/concepts/delivery-and-recovery.md: the event-time merge).

The bundled feed is replayed while the service runs, at full speed, at 60x and in real
time (80 s of it), and once onto fresh topics with the service starting as the replay
starts (a first `make demo`). Each run's hedge orders must be, id for id, those of the same
records loaded before the service started (which it reads in event-time order)."""

from __future__ import annotations

import asyncio

import pytest

from hedger.adapters.metrics import Metrics
from hedger.config import Settings
from hedger.demo import BUNDLED_FEED
from hedger.runtime import HedgerService
from producers.replay import TimeWindow, replay
from tests.integration.bundled_feed import order_keys
from tests.integration.harness import (
    DEADLINE_S,
    hedger_settings,
    read_all,
    running_hedger,
    wait_until,
)

pytestmark = pytest.mark.broker

FEED_START_NS = 1_795_185_000 * 10**9
# 80 s of the feed holding five client trades.
REAL_TIME_WINDOW = TimeWindow(FEED_START_NS + 140 * 10**9, FEED_START_NS + 220 * 10**9)


async def load(settings: Settings, speed: float, window: TimeWindow | None) -> None:
    await replay(
        BUNDLED_FEED,
        settings.require_bootstrap(),
        speed=speed,
        prices_topic=settings.prices_topic,
        fills_topic=settings.fills_topic,
        window=window,
        report=lambda _: None,
    )


async def orders_of(service: HedgerService, settings: Settings) -> list[object]:
    await wait_until(service.caught_up)
    return order_keys(await read_all(settings.require_bootstrap(), settings.orders_topic))


def refused_stale(metrics: Metrics) -> float:
    return sum(
        sample.value
        for family in metrics.registry.collect()
        if family.name == "hedger_order_refusals"
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels.get("reason") == "stale_price"
    )


async def loaded_first(bootstrap: str, prefix: str, window: TimeWindow | None) -> list[object]:
    settings = await hedger_settings(bootstrap, prefix)
    await load(settings, 0, window)
    async with running_hedger(settings) as service:
        return await orders_of(service, settings)


@pytest.mark.parametrize(("speed", "window"), [(0, None), (60, None), (1, REAL_TIME_WINDOW)])
async def test_a_feed_replayed_while_the_service_runs_gives_the_orders_of_it_loaded_first(
    kafka_bootstrap: str, topic_prefix: str, speed: float, window: TimeWindow | None
) -> None:
    reference = await loaded_first(kafka_bootstrap, f"{topic_prefix}first.", window)
    assert len(reference) > (50 if window is None else 3)
    settings = await hedger_settings(kafka_bootstrap, f"{topic_prefix}live.")
    async with running_hedger(settings) as service:
        await load(settings, speed, window)
        orders = await orders_of(service, settings)
        stale = refused_stale(service.metrics)
    assert orders == reference
    assert stale == 0


async def test_a_first_run_started_with_the_replay_gives_the_orders_of_the_feed_loaded_first(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    reference = await loaded_first(kafka_bootstrap, f"{topic_prefix}first.", None)
    settings = await hedger_settings(kafka_bootstrap, f"{topic_prefix}cold.")
    service = HedgerService(settings)
    stop = asyncio.Event()
    running = asyncio.create_task(service.run(stop))
    try:
        await load(settings, 0, None)  # while the service starts: its groups, its rebuild
        await wait_until(lambda: service.ready or running.done())
        orders = await orders_of(service, settings)
    finally:
        stop.set()
        async with asyncio.timeout(DEADLINE_S):
            await running
    assert orders == reference
    assert refused_stale(service.metrics) == 0
