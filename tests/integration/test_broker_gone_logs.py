"""While its broker is gone, `hedger run` logs a bounded number of lines: aiokafka's
flood of failed connections and fetches (about 156 lines a second) is one line per
message kind every 10 s."""

from __future__ import annotations

import asyncio
import signal

import pytest

from hedger.adapters.embedded_broker import EmbeddedBroker
from tests.integration.harness import HedgerProcess, hedger_settings, is_ready, wait_until

pytestmark = pytest.mark.broker

GONE_S = 8.0


async def test_log_lines_while_the_broker_is_gone_stay_bounded(topic_prefix: str) -> None:
    broker = EmbeddedBroker()  # its own broker: this test stops it
    bootstrap = broker.start()
    try:
        settings = await hedger_settings(bootstrap, topic_prefix, shutdown_timeout_s=3.0)
        process = HedgerProcess(settings)
        try:
            await wait_until(lambda: is_ready(settings))
            await asyncio.to_thread(broker.stop)
            await asyncio.sleep(GONE_S)
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(process.wait, 30)
            stderr = process.said()
        finally:
            if process.poll() is None:
                process.kill()
    finally:
        broker.stop()
    from_aiokafka = [line for line in stderr.splitlines() if " aiokafka" in line]
    assert from_aiokafka, "the broker's absence went unlogged"
    assert len(from_aiokafka) <= 40, f"{len(from_aiokafka)} aiokafka lines in {GONE_S} s"
