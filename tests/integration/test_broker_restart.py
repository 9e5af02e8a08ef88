"""The broker SIGKILLed mid-stream and restarted on its own data: the hedger rides it out.

Apache Kafka, one node of this test's own, on a fixed port and data folder. The bundled
feed is loaded and the hedger catches up on it two records a batch, so fetches, sends and
commits are under way when the broker is killed. While it is gone `/readyz` says why; it
comes back on the same data within the send deadline, and the same hedger process handles
the rest: it is still running, a read_committed reader sees no order id twice and the
orders of one uninterrupted run, and each book's shares and working shares are the fills
and orders. (The feed is loaded before the start: loaded live, the orders may differ by
the event-time merge's handling of fills in flight, whatever the broker does.)
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from hedger.adapters.apache_kafka import ApacheKafka, KafkaUnavailableError
from hedger.adapters.embedded_broker import free_port
from hedger.config import Settings
from tests.integration.bundled_feed import check_as_uninterrupted, load_bundled_feed
from tests.integration.harness import (
    books,
    child_hedger,
    handled_everything,
    hedger_settings,
    http_get,
    wait_until,
)

pytestmark = pytest.mark.broker

GONE_S = 15.0


async def test_a_broker_killed_and_restarted_mid_stream_loses_and_repeats_nothing(
    tmp_path: Path, topic_prefix: str
) -> None:
    broker = ApacheKafka(data_dir=tmp_path / "kafka", port=free_port())
    try:
        bootstrap = broker.start()
    except KafkaUnavailableError as error:
        pytest.skip(f"Apache Kafka unavailable: {error}")
    try:
        settings = await hedger_settings(
            bootstrap, topic_prefix, partitions=2, batch_max_records=2, send_timeout_s=30.0
        )
        await load_bundled_feed(settings)
        async with child_hedger(settings) as process:
            await asyncio.sleep(0.5)  # catching up: two records a batch
            midstream = not await handled_everything(settings)
            (node,) = broker.nodes
            node.signal(signal.SIGKILL)
            await asyncio.to_thread(node.process.wait, 10) if node.process else None
            # Unready once the broker has been silent for 5 s (a fetch answers every 10 ms).
            await wait_until(lambda: _says_unreachable(settings), timeout_s=GONE_S)
            await asyncio.to_thread(broker.restart, node)
            await wait_until(lambda: handled_everything(settings), timeout_s=120)
            state = await books(settings)
            alive = process.poll() is None
            stderr = process.said()
        assert midstream
        assert alive, stderr
        await check_as_uninterrupted(settings, state, topic_prefix, 2)
    finally:
        broker.stop()


async def _says_unreachable(settings: Settings) -> bool:
    return await http_get(settings, "/readyz") == (503, b"not ready: broker unreachable\n")
