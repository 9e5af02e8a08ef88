"""`hedger run` stopped by SIGTERM while it hedges a stream of ticks, on the real broker:
/readyz answers 503 once the stop is requested, the process exits 0 (it exits 1 past
HEDGER_SHUTDOWN_TIMEOUT_S), and the committed offsets are exactly the work it delivered."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.events import PriceTick
from tests.integration.harness import (
    Producer,
    child_hedger,
    committed,
    has_book,
    hedger_settings,
    is_ready,
    read_all,
    wait_committed,
    wait_until,
)
from tests.integration.test_hedger_restart import random_walk_ticks, reference_orders
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def test_sigterm_while_processing_answers_unready_then_exits_zero_having_committed(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix, rate=mm.RATE)
    ticks = random_walk_ticks(3000, 0, seed=5)
    async with Producer(kafka_bootstrap) as feed, child_hedger(settings) as process:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        await wait_until(lambda: has_book(settings, "mm-1"))
        sending = asyncio.create_task(_send_ticks(feed, settings, ticks))
        await wait_committed(settings, 100)  # hedging is under way
        assert await is_ready(settings)
        answer = await _readyz_pending_with_sigterm(settings, process.pid)
        code = await asyncio.to_thread(process.wait, settings.shutdown_timeout_s + 10)
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        stderr = process.said()

    assert answer.startswith(b"HTTP/1.1 503"), answer
    assert answer.endswith(b"not ready: stopping\n"), answer
    assert code == 0, stderr
    assert stderr.index("stop requested: not ready") < stderr.index("last batch committed")
    group = f"{settings.group_id}.prices.{settings.instance_id}"
    handled_prices = await committed(kafka_bootstrap, group, settings.prices_topic)
    assert 100 <= handled_prices < 1 + len(ticks)  # stopped mid-stream
    assert await committed(kafka_bootstrap, settings.group_id, settings.fills_topic) == 1
    # Exactly the orders of the committed inputs: nothing handled is left uncommitted, and
    # nothing committed is left undelivered.
    sent = await read_all(kafka_bootstrap, settings.orders_topic)
    handled = [mm.vol(), mm.client_buys_calls(), *ticks[: handled_prices - 1]]
    assert [(o["order_id"], o["side"], o["qty"]) for o in sent] == reference_orders(
        settings, handled
    )


async def _readyz_pending_with_sigterm(settings: Settings, pid: int) -> bytes:
    """The answer to a /readyz request that waits, with SIGTERM, for the hedger to resume.

    Polling cannot be trusted to land in the milliseconds between the signal and the exit, so
    the hedger is frozen mid-stream (SIGSTOP), sent SIGTERM, sent the request (the kernel
    accepts the connection meanwhile), and resumed: its loop takes the signal before it can
    accept the connection and read the request.
    """
    os.kill(pid, signal.SIGSTOP)
    try:
        os.kill(pid, signal.SIGTERM)
        reader, writer = await asyncio.open_connection("127.0.0.1", settings.metrics_port)
        writer.write(b"GET /readyz HTTP/1.1\r\nHost: hedger\r\nConnection: close\r\n\r\n")
        await writer.drain()
    finally:
        os.kill(pid, signal.SIGCONT)
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def _send_ticks(feed: Producer, settings: Settings, ticks: list[PriceTick]) -> None:
    for tick in ticks:
        await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")
