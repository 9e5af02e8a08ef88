"""Killing `hedger run` (SIGKILL, no goodbye) and starting it again, on a real broker.

No exchange runs, so every hedge order stays working and must be rebuilt from the order topic.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
import sys
from typing import Any

import numpy as np
import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.engine import HedgeEngine
from hedger.core.events import Event, FillReport, PriceTick, RecoveryCompleted, Side
from tests.integration.harness import (
    Producer,
    books,
    child_hedger,
    committed,
    environment,
    has_book,
    hedger_settings,
    read_all,
    read_messages,
    wait_committed,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

PUTS = dataclasses.replace(mm.CALL, is_call=False, strike=100.0)


def random_walk_ticks(count: int, first_second: int, seed: int) -> list[PriceTick]:
    steps = np.random.default_rng(seed).choice([-0.25, 0.25], size=count)
    spots = 100.0 + np.cumsum(steps)
    return [mm.tick(float(spot), first_second + i) for i, spot in enumerate(spots)]


def second_client_fill(ts_ns: int) -> FillReport:
    return FillReport("C-2", "mm-2", PUTS.occ_symbol, Side.BUY, 5000, 4.10, ts_ns, multiplier=1)


def reference_orders(settings: Settings, events: list[Event]) -> list[tuple[str, str, float]]:
    """What one uninterrupted engine sends for the same inputs."""
    engine = HedgeEngine(settings.engine_config())
    engine.handle(RecoveryCompleted(0))
    actions = [a for event in events for a in engine.handle(event)]
    return [(a.order_id, a.side.value, a.qty) for a in actions if isinstance(a, SubmitHedgeOrder)]


async def walk_settings(bootstrap: str, prefix: str, **overrides: Any) -> Settings:
    """Settings that hedge the market maker's book on every wide enough step of a walk
    (`overrides` taking precedence)."""
    walk: dict[str, Any] = {
        "rate": mm.RATE,
        "band_shares": 100.0,
        "lot_size": 100.0,
        "min_interval_ms": 0,
        # A walk this wild flip-flops across the band and would latch the book: this is
        # about restarts (the latch's own test is in test_controls_broker.py).
        "latch_reversals": 1_000,
    }
    return await hedger_settings(bootstrap, prefix, **{**walk, **overrides})


async def feed_a_calm_start(feed: Producer, settings: Settings, calm: list[PriceTick]) -> None:
    """The vol, the client's calls, then `calm`, all handled by the running hedger."""
    await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
    await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
    # Fills and prices are separate topics: let the fill land before the ticks after it,
    # so the order of inputs is the reference's.
    await wait_until(lambda: has_book(settings, "mm-1"))
    for tick in calm:
        await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")
    await wait_committed(settings, 1 + len(calm))


def by_book(state: dict[str, object]) -> list[object]:
    return sorted(state["exposures"], key=lambda e: (e["book"], e["underlying"]))  # type: ignore[index, attr-defined]


async def test_restart_after_kill_rebuilds_the_same_book_and_never_hedges_twice(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await walk_settings(kafka_bootstrap, topic_prefix)
    calm = random_walk_ticks(60, 0, seed=1)
    busy = random_walk_ticks(200, 60, seed=2)
    late_fill = second_client_fill(calm[-1].ts_ns + 1)
    events: list[Event] = [mm.vol(), mm.client_buys_calls(), *calm, late_fill, *busy]

    async with Producer(kafka_bootstrap) as feed:
        async with child_hedger(settings) as first:
            await feed_a_calm_start(feed, settings, calm)
            before = await books(settings)
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)

        async with child_hedger(settings) as second:
            rebuilt = await books(settings)
            await feed.send(settings.fills_topic, encode_fill(late_fill), "mm-2")
            await wait_until(lambda: has_book(settings, "mm-2"))
            orders_before_busy = len(await read_all(kafka_bootstrap, settings.orders_topic))
            for tick in busy[:100]:
                await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")
            # Kill mid-stream: as soon as an order from the busy stretch is out.
            await read_messages(kafka_bootstrap, settings.orders_topic, orders_before_busy + 1)
            second.send_signal(signal.SIGKILL)
            second.wait(timeout=10)

        async with child_hedger(settings):
            for tick in busy[100:]:
                await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")
            await wait_committed(settings, 1 + len(calm) + len(busy))
            final = await books(settings)

    sent = await read_all(kafka_bootstrap, settings.orders_topic)
    ids = [o["order_id"] for o in sent]
    assert len(ids) == len(set(ids)), "an order id was sent twice"
    assert [(o["order_id"], o["side"], o["qty"]) for o in sent] == reference_orders(
        settings, events
    )
    assert by_book(rebuilt) == by_book(before)
    assert rebuilt["working_orders"] == before["working_orders"]
    for exposure in by_book(final):
        net = exposure["delta"] + exposure["working_shares"]  # type: ignore[index]
        assert abs(net) <= settings.band_shares + settings.lot_size / 2


async def test_sigterm_stops_within_deadline_after_committing(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix, rate=mm.RATE)
    ticks = random_walk_ticks(300, 0, seed=3)
    async with Producer(kafka_bootstrap) as feed, child_hedger(settings) as process:
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        sending = asyncio.create_task(_send_ticks(feed, settings, ticks))
        await asyncio.sleep(0.3)  # mid-stream
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, settings.shutdown_timeout_s + 5)
        await sending
        stderr = process.said()

    assert code == 0, stderr
    assert "stopping: last batch committed" in stderr
    group = f"{settings.group_id}.prices.{settings.instance_id}"
    done = await committed(kafka_bootstrap, group, settings.prices_topic)
    assert 0 < done <= len(ticks)


async def _send_ticks(feed: Producer, settings: Settings, ticks: list[PriceTick]) -> None:
    for tick in ticks:
        await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")


def test_run_without_bootstrap_refuses_with_a_clear_message() -> None:
    env = environment(Settings())
    env.pop("HEDGER_KAFKA_BOOTSTRAP", None)
    result = subprocess.run(
        [sys.executable, "-m", "hedger.cli", "run"], env=env, capture_output=True, timeout=60
    )
    assert result.returncode == 2
    assert b"HEDGER_KAFKA_BOOTSTRAP is not set" in result.stderr
