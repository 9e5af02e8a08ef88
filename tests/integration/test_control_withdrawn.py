"""A control request answered with an error is never carried out later (Apache Kafka, which
has transactions).

The broker is killed: a kill switch on every book is requested and answered 503 after
HEDGER_SEND_TIMEOUT_S, its record still waiting in the hedger's producer, which retries.
The broker is started again: that record may then reach the log, but inside a transaction
the hedger never commits and its successor's start aborts. A control request after that
(on another book) is published and applied, as is the one before; by then the refused
kill is settled, and it is on no read-committed reader's topic and in no book's state.

Published with a plain producer instead, the refused kill engages once the broker is back.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import orjson
import pytest

from hedger.adapters.apache_kafka import ApacheKafka
from hedger.config import Settings
from tests.integration.harness import books, child_hedger, records_now, wait_until
from tests.integration.test_controls_broker import control_settings, post

pytestmark = pytest.mark.broker

SEND_TIMEOUT_S = 2.0
KILL_ALL = {"book": "*", "engaged": True}
BEFORE = {"book": "before", "engaged": True}
AFTER = {"book": "after", "engaged": True}


async def test_a_kill_answered_503_never_engages_after_the_broker_is_back(
    kafka_node: ApacheKafka, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await control_settings(
        kafka_node.bootstrap,
        topic_prefix,
        tmp_path,
        delivery="exactly_once",
        send_timeout_s=SEND_TIMEOUT_S,
        # Nothing else written while the broker is down: that would stop the hedger
        # (tests/ops/test_exit_cause.py), not what this test is about.
        snapshot_interval_s=0.0,
    )
    (node,) = kafka_node.nodes
    async with child_hedger(settings):
        # The control producer has written before: it knows the topic's leader, and does
        # not wait for it to send the next record (as it would the first).
        assert await _published(settings, BEFORE)
        assert node.process is not None
        node.signal(signal.SIGKILL)
        await asyncio.to_thread(node.process.wait, 30)
        refused = await post(settings, "/control/kill", KILL_ALL)
        await asyncio.to_thread(kafka_node.restart, node)
        # Published once the refused request is settled (503 until then: retried).
        await wait_until(lambda: _published(settings, AFTER), timeout_s=60)
        await wait_until(lambda: _switches_include(settings, "after"), timeout_s=30)
        switches = (await books(settings))["kill_switches"]

    status, answer = refused
    assert (status, answer["error"]) == (503, "not_published")
    assert sorted(switches) == ["after", "before"]
    committed = await records_now(kafka_node.bootstrap, settings.control_topic)
    assert [orjson.loads(r.value or b"")["book"] for r in committed] == ["before", "after"]
    assert "withdrawn and will not be applied" in answer["detail"]


async def _published(settings: Settings, body: dict[str, Any]) -> bool:
    status, _ = await post(settings, "/control/kill", body)
    return status == 202


async def _switches_include(settings: Settings, book: str) -> bool:
    return book in (await books(settings))["kill_switches"]
