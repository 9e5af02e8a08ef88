"""/readyz semantics of the service in this process: ready only while fill partitions are
assigned, state is rebuilt and the broker answers; not ready the moment a stop is requested."""

from __future__ import annotations

import asyncio
import time

import pytest

from hedger.adapters.embedded_broker import EmbeddedBroker
from hedger.config import Settings
from hedger.runtime import HedgerService
from tests.integration.harness import hedger_settings, http_get, running_hedger, wait_until


def test_readiness_before_the_service_runs_is_starting() -> None:
    service = HedgerService(Settings(kafka_bootstrap="127.0.0.1:9"))
    assert service.not_ready_reason() == "starting: checking the broker and topics"
    assert service.rebuilt_at_s == 0.0  # never rebuilt


@pytest.mark.broker
async def test_readiness_on_stop_request_is_stopping_at_once_while_the_run_goes_on(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix)
    stop = asyncio.Event()
    started_s = time.time()
    async with running_hedger(settings, stop) as service:
        assert service.not_ready_reason() is None
        assert started_s <= service.rebuilt_at_s <= time.time()  # when the rebuild ended
        status, body = await http_get(settings, "/readyz")
        assert (status, body.splitlines()[0]) == (200, b"ready")
        stop.set()
        assert service.not_ready_reason() == "stopping"
        await asyncio.sleep(0)  # one turn of the loop: the stop watcher runs
        assert service.metrics.registry.get_sample_value("hedger_ready") == 0
        assert service.ready  # the last batch is still in hand: state is intact


@pytest.mark.broker
async def test_readiness_with_the_broker_gone_is_broker_unreachable_while_livez_answers(
    topic_prefix: str,
) -> None:
    broker = EmbeddedBroker()  # its own broker: this test stops it
    bootstrap = broker.start()
    try:
        settings = await hedger_settings(bootstrap, topic_prefix, shutdown_timeout_s=3.0)
        async with running_hedger(settings) as service:
            # In a thread: the broker takes seconds to die, and the service must run meanwhile.
            await asyncio.to_thread(broker.stop)
            await wait_until(lambda: _reason_is(service, "broker unreachable"))
            assert await http_get(settings, "/readyz") == (503, b"not ready: broker unreachable\n")
            assert (await http_get(settings, "/livez"))[0] == 200
    finally:
        broker.stop()


def _reason_is(service: HedgerService, reason: str) -> bool:
    return service.not_ready_reason() == reason
