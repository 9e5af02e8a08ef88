"""`hedger run` started before its broker: it waits, unready and saying why, and starts
cleanly once the broker is up and the topics exist."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from hedger.adapters.apache_kafka import ApacheKafka, KafkaUnavailableError
from hedger.adapters.broker_process import free_port
from hedger.config import Settings
from tests.integration.harness import HedgerProcess, hedger_settings, http_get, wait_until

pytestmark = pytest.mark.broker


async def _readyz(settings: Settings) -> tuple[int, bytes]:
    with contextlib.suppress(OSError):
        return await http_get(settings, "/readyz")
    return 0, b""


async def test_run_waits_for_a_broker_that_comes_up_later_then_starts_cleanly(
    topic_prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    broker = ApacheKafka(port=port, data_dir=tmp_path / "kafka")
    try:
        bootstrap = await asyncio.to_thread(broker.start)
    except KafkaUnavailableError as error:
        pytest.skip(f"Apache Kafka cannot run here: {error}")
    # The topics first, on the broker's own storage; then the broker goes away.
    settings = await hedger_settings(bootstrap, topic_prefix, broker_wait_s=120.0)
    await asyncio.to_thread(broker.stop)
    process = HedgerProcess(settings)
    try:
        await wait_until(lambda: _says(settings, b"broker unreachable"))
        await asyncio.to_thread(broker.start)  # the same storage and port
        await wait_until(lambda: _ready(settings), timeout_s=120)
        assert process.poll() is None
        process.terminate()
        await asyncio.to_thread(process.wait, 30)
        stderr = process.said()
    finally:
        if process.poll() is None:
            process.kill()
        await asyncio.to_thread(broker.stop)
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert "broker unreachable" in stderr  # it said so while it waited


async def _ready(settings: Settings) -> bool:
    status, body = await _readyz(settings)
    return status == 200 and body.startswith(b"ready\n")


async def _says(settings: Settings, answer: bytes) -> bool:
    _, body = await _readyz(settings)
    return answer in body
