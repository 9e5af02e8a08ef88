"""A record far over the size limit, on any input topic, is dead-lettered as an excerpt
with its size and provenance, and the service goes on with the next record."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from hedger.adapters.outbox import EXCERPT_BYTES
from hedger.adapters.topics import ensure_topics
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.control_codec import encode_control
from hedger.core.events import KillSwitchSet
from tests.integration.harness import (
    books,
    hedger_settings,
    prefixed_settings,
    read_topic,
    running_hedger,
    started,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

# Twice what a broker takes by default: forwarded whole, it could never be dead-lettered.
HUGE_BYTES = 2 * 1024 * 1024


def _huge(kind: str) -> bytes:
    head = b'{"type":"' + kind.encode() + b'","pad":"'
    return head + b"x" * (HUGE_BYTES - len(head) - 2) + b'"}'


async def _settings(bootstrap: str, prefix: str) -> Settings:
    names = prefixed_settings(bootstrap, prefix)
    inputs = [names.prices_topic, names.fills_topic, names.control_topic]
    # The inputs take the huge record (on Kafka; Tansu enforces no limit); the dead-letter
    # topic keeps the broker's default limit, below the record's size.
    room = {"max.message.bytes": str(2 * HUGE_BYTES)}
    await ensure_topics(bootstrap, inputs, configs=room)
    return await hedger_settings(bootstrap, prefix, rate=mm.RATE, band_shares=100.0)


async def _all_used(settings: Settings) -> bool:
    """Every record after the huge one took effect: the book, its mark, the kill switch."""
    state = await books(settings)
    marked = any(e["book"] == "mm-1" and e["mark"] == 100.0 for e in state["exposures"])
    return marked and "mm-9" in state["kill_switches"]


async def _send_valid_records_and_see_them_used(feed: AIOKafkaProducer, settings: Settings) -> None:
    await feed.send_and_wait(settings.prices_topic, encode_vol(mm.vol()), b"XYZ")
    await feed.send_and_wait(settings.fills_topic, encode_fill(mm.client_buys_calls()), b"mm-1")
    await feed.send_and_wait(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), b"XYZ")
    kill = KillSwitchSet("mm-9", True, mm.tick(100.0, 0).ts_ns, "ops")
    await feed.send_and_wait(settings.control_topic, encode_control(kill), b"kill/mm-9")
    await wait_until(lambda: _all_used(settings))


def _topic(settings: Settings, role: str) -> str:
    return {
        "prices": settings.prices_topic,
        "fills": settings.fills_topic,
        "control": settings.control_topic,
    }[role]


@pytest.mark.parametrize("role", ["prices", "fills", "control"])
async def test_a_huge_record_is_dead_lettered_as_an_excerpt_and_the_next_one_is_used(
    kafka_bootstrap: str, topic_prefix: str, role: str
) -> None:
    settings = await _settings(kafka_bootstrap, topic_prefix)
    topic = _topic(settings, role)
    big = {"max_request_size": 2 * HUGE_BYTES, "acks": "all"}
    async with (
        started(AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, **big)) as feed,
        running_hedger(settings) as service,
    ):
        huge = await feed.send_and_wait(topic, _huge("tick" if role == "prices" else role))
        await _send_valid_records_and_see_them_used(feed, settings)
        (letter,) = await read_topic(kafka_bootstrap, settings.dlq_topic, 1)
        lost = service.metrics.registry.get_sample_value("hedger_dead_letters_lost_total")

    headers: dict[str, Any] = {key: value.decode() for key, value in letter.headers}
    assert headers["reason"] == "oversized"
    assert headers["original_bytes"] == str(HUGE_BYTES)
    assert (headers["source_topic"], headers["source_offset"]) == (topic, str(huge.offset))
    assert len(letter.value or b"") == EXCERPT_BYTES
    assert (letter.value or b"").startswith(b'{"type":"')
    assert lost == 0


async def test_a_dead_letter_the_topic_refuses_is_counted_and_the_service_goes_on(
    apache_bootstrap: str, topic_prefix: str
) -> None:
    """On Kafka (Tansu enforces no size limit): a dead-letter topic that takes less than
    the excerpt refuses the dead letter for good; that is logged and counted, not a crash."""
    names = prefixed_settings(apache_bootstrap, topic_prefix)
    await ensure_topics(apache_bootstrap, [names.dlq_topic], configs={"max.message.bytes": "1024"})
    settings = await _settings(apache_bootstrap, topic_prefix)
    big = {"max_request_size": 2 * HUGE_BYTES, "acks": "all"}
    async with (
        started(AIOKafkaProducer(bootstrap_servers=apache_bootstrap, **big)) as feed,
        running_hedger(settings) as service,
    ):
        await feed.send_and_wait(settings.prices_topic, _huge("tick"))
        await _send_valid_records_and_see_them_used(feed, settings)
        lost = service.metrics.registry.get_sample_value("hedger_dead_letters_lost_total")

    assert lost == 1
