"""The delivery guarantee in force, chosen from the broker and said where an operator looks.

`HEDGER_DELIVERY=auto` (the default) delivers exactly once on Apache Kafka (transactions)
and at least once on the embedded broker (it refuses InitProducerId); `/readyz`, the
`hedger_delivery_mode` metric and the start-up log name the mode. `exactly_once` on a broker
without transactions refuses to start in one line; `at_least_once` is honoured anywhere.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest

from hedger.config import Settings
from tests.integration.harness import (
    HedgerProcess,
    hedger_settings,
    http_get,
    metric,
    running_hedger,
)

pytestmark = pytest.mark.broker

_EXPECTED = {"apache": "exactly_once", "embedded": "at_least_once"}


def _tier(request: pytest.FixtureRequest) -> str:
    tier = str(request.node.callspec.params.get("kafka_bootstrap"))
    if tier not in _EXPECTED:
        pytest.skip(f"the {tier} tier's transactions are not known in advance")
    return tier


async def test_auto_delivers_as_the_broker_allows_and_says_so(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    topic_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = _EXPECTED[_tier(request)]
    settings = await hedger_settings(kafka_bootstrap, topic_prefix)
    with caplog.at_level(logging.INFO, logger="hedger"):
        async with running_hedger(settings) as service:
            status, body = await http_get(settings, "/readyz")
            modes = {
                mode: await metric(settings, "hedger_delivery_mode", mode=mode)
                for mode in _EXPECTED.values()
            }

    assert service.delivery == expected
    assert (status, body.decode()) == (200, f"ready\ndelivery: {expected}\n")
    assert modes == {mode: (1.0 if mode == expected else None) for mode in modes}
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("delivery: ")]
    assert len(said) == 1
    assert said[0].startswith(f"delivery: {expected.replace('_', ' ')}")
    # The embedded broker's refusal is an answer, not an error logged by aiokafka.
    producer_errors = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("aiokafka.producer") and r.levelno >= logging.ERROR
    ]
    assert not producer_errors


async def test_at_least_once_is_honoured_on_any_broker(
    request: pytest.FixtureRequest, kafka_bootstrap: str, topic_prefix: str
) -> None:
    _tier(request)
    settings = await hedger_settings(kafka_bootstrap, topic_prefix, delivery="at_least_once")
    async with running_hedger(settings) as service:
        _, body = await http_get(settings, "/readyz")

    assert service.delivery == "at_least_once"
    assert body.endswith(b"delivery: at_least_once\n")


async def test_exactly_once_without_transactions_refuses_to_start_in_one_line(
    request: pytest.FixtureRequest, kafka_bootstrap: str, topic_prefix: str
) -> None:
    if _tier(request) != "embedded":
        pytest.skip("Apache Kafka has transactions: exactly_once starts there")
    settings = await hedger_settings(kafka_bootstrap, topic_prefix)
    process = HedgerProcess(dataclasses.replace(settings, delivery="exactly_once"))
    await asyncio.to_thread(process.wait, 60)
    stderr = process.said()

    assert process.returncode == 2, stderr
    assert stderr.strip().splitlines()[-1] == (
        "hedger: HEDGER_DELIVERY=exactly_once, but the broker refused a transactional"
        " producer (UnknownError); use auto or at_least_once"
    )
    assert "Traceback" not in stderr


def test_an_unknown_delivery_mode_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="HEDGER_DELIVERY must be one of auto, exactly_once"):
        Settings.from_env({"HEDGER_DELIVERY": "twice"})
