"""`hedger topics create|check` and `hedger run`'s topic check, on the test broker."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from hedger.adapters.topics import describe_topics, ensure_topics
from hedger.config import Settings
from tests.integration.harness import environment, prefixed_settings

pytestmark = pytest.mark.broker

_DEADLINE_S = 120


def _settings(bootstrap: str, prefix: str) -> Settings:
    return prefixed_settings(bootstrap, prefix, broker_wait_s=5.0)


async def _hedger(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "hedger.cli", *args]
    return await asyncio.to_thread(
        subprocess.run,
        command,
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=_DEADLINE_S,
    )


async def test_check_names_missing_topics_then_create_makes_them_as_planned(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    before = await _hedger(settings, "topics", "check")
    created = await _hedger(settings, "topics", "create", "--partitions", "2")
    after = await _hedger(settings, "topics", "check", "--partitions", "2")
    found, _ = await describe_topics(kafka_bootstrap, settings.topics)

    assert before.returncode == 1
    assert before.stdout.count("does not exist") == 6
    assert "run `hedger topics create`" in before.stdout
    assert created.returncode == 0, created.stdout + created.stderr
    assert created.stdout.count("  created  ") == 6
    assert after.returncode == 0, after.stdout
    assert "all topics as planned" in after.stdout
    assert {name: topic.partitions for name, topic in found.items()} == dict.fromkeys(
        settings.topics, 2
    )
    control = found[settings.control_topic].configs
    assert control is not None
    assert control["cleanup.policy"] == "compact"
    snapshots = found[settings.snapshot_topic].configs
    assert snapshots is not None
    assert snapshots["cleanup.policy"] == "compact"
    dlq = found[settings.dlq_topic].configs
    assert dlq is not None
    assert int(dlq["max.message.bytes"]) > settings.max_message_bytes


async def test_create_leaves_existing_topics_alone_and_check_names_the_mismatch(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    await ensure_topics(kafka_bootstrap, [settings.fills_topic], partitions=2)
    await ensure_topics(kafka_bootstrap, [settings.orders_topic], partitions=1)
    created = await _hedger(settings, "topics", "create")
    found, _ = await describe_topics(kafka_bootstrap, settings.topics)

    assert created.returncode == 1
    assert created.stdout.count("  created  ") == 4
    assert "they must match" in created.stdout
    assert found[settings.fills_topic].partitions == 2


async def test_run_refuses_missing_topics_naming_the_command_that_creates_them(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    result = await _hedger(settings, "run")
    found, _ = await describe_topics(kafka_bootstrap, settings.topics)

    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"hedger: prices topic '{settings.prices_topic}' does not exist")
    assert last.endswith("run `hedger topics create`")
    assert "Traceback" not in result.stderr
    assert found == {}  # and asking did not create them (Tansu would, for a named topic)


async def test_run_refuses_fills_and_orders_partitioned_differently(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = _settings(kafka_bootstrap, topic_prefix)
    others = [name for name in settings.topics if name != settings.fills_topic]
    await ensure_topics(kafka_bootstrap, others, partitions=1)
    await ensure_topics(kafka_bootstrap, [settings.fills_topic], partitions=2)
    result = await _hedger(settings, "run")

    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last == (
        f"hedger: fills topic '{settings.fills_topic}' has 2 partitions but orders topic"
        f" '{settings.orders_topic}' has 1: they must match (see `hedger topics check`)"
    )
