"""A snapshot the broker does not take is logged, counted and tried again later, and the
hedger goes on (at least once: under exactly once it is part of the batch's transaction,
given up with it, as `tests/ops/test_exit_cause.py` shows for orders).

The hedger writes its first snapshot once rebuilt; a vol record then moves its state, and
the broker stops before the next snapshot is due. That snapshot times out; the service is
still alive and answers, unready with the broker gone.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from hedger.adapters.embedded_broker import EmbeddedBroker
from hedger.codec import encode_vol
from hedger.runtime import HedgerService
from tests.integration.harness import (
    Producer,
    hedger_settings,
    http_get,
    running_hedger,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

# Long enough for the vol record to be handled before the next snapshot is due.
INTERVAL_S = 5.0


async def test_a_snapshot_the_broker_does_not_take_is_counted_and_hedging_goes_on(
    topic_prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker = EmbeddedBroker()  # its own broker: this test stops it
    bootstrap = broker.start()
    try:
        settings = await hedger_settings(
            bootstrap,
            topic_prefix,
            snapshot_interval_s=INTERVAL_S,
            send_timeout_s=2.0,
            shutdown_timeout_s=3.0,
        )
        async with running_hedger(settings) as service:
            await wait_until(lambda: _sample(service, "hedger_snapshot_bytes") > 0)
            async with Producer(bootstrap) as feed:
                await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            await wait_until(lambda: _consumed(service, settings.prices_topic) > 0)
            # Killed at once: a broker asked to stop serves on while it winds down.
            await asyncio.to_thread(broker.stop, 0.1)
            await wait_until(lambda: _sample(service, "hedger_snapshot_failures_total") > 0)
            await wait_until(lambda: service.not_ready_reason() == "broker unreachable")
            assert (await http_get(settings, "/livez"))[0] == 200
    finally:
        broker.stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        message.startswith(f"snapshot not written, next try in {INTERVAL_S:g} s: ")
        and "did not acknowledge" in message
        for message in warnings
    ), warnings


def _sample(service: HedgerService, name: str) -> float:
    return service.metrics.registry.get_sample_value(name) or 0.0


def _consumed(service: HedgerService, topic: str) -> float:
    registry = service.metrics.registry
    return registry.get_sample_value("hedger_messages_consumed_total", {"topic": topic}) or 0.0
