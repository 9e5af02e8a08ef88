"""A crash between the two offset commits of a batch: the instance's own (prices and fills,
one request) went in, the shared group's (fills) did not. The restart resumes the fills
from the instance's commit, where its prices resume, so no fill is handled again against
later prices than the first time: the working shares stay the orders on the topic and
nothing is sent again."""

from __future__ import annotations

import signal
from collections import defaultdict

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from tests.integration.bundled_feed import load_bundled_feed
from tests.integration.harness import (
    books,
    child_hedger,
    handled_everything,
    hedger_settings,
    read_all,
    started,
    wait_until,
)

pytestmark = pytest.mark.broker

REWOUND_FILLS = 20


async def test_a_crash_between_the_two_commits_resumes_both_streams_from_the_same_batch(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix)
    await load_bundled_feed(settings)
    async with child_hedger(settings) as process:
        await wait_until(lambda: handled_everything(settings))
        process.send_signal(signal.SIGTERM)  # leaves the group: its offsets can be set
        assert process.wait(timeout=30) == 0
    sent = len(await read_all(kafka_bootstrap, settings.orders_topic))
    # The shared group's last commits lost, as a crash right after the instance's would.
    fills = TopicPartition(settings.fills_topic, 0)
    rewinder = AIOKafkaConsumer(
        settings.fills_topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=settings.group_id,
        enable_auto_commit=False,
    )
    async with started(rewinder):
        while not rewinder.assignment():  # joins the group the hedger left
            await rewinder.getmany(timeout_ms=100)
        end = await rewinder.committed(fills)
        assert end is not None
        assert end > REWOUND_FILLS
        await rewinder.commit({fills: end - REWOUND_FILLS})
    async with child_hedger(settings):
        await wait_until(lambda: handled_everything(settings))
        state = await books(settings)
    orders = await read_all(kafka_bootstrap, settings.orders_topic)

    assert len(orders) == sent, "orders sent again on the restart"
    ordered: dict[tuple[str, str], float] = defaultdict(float)
    for order in orders:
        ordered[(order["book"], order["symbol"])] += order["qty"] * (
            1 if order["side"] == "buy" else -1
        )
    for exposure in state["exposures"]:
        key = (exposure["book"], exposure["underlying"])
        assert exposure["working_shares"] == pytest.approx(ordered.get(key, 0.0)), key
