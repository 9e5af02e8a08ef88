"""`hedger run` stopped by a broker that will not acknowledge its orders: it exits 1 with
one line naming the delivery timeout (not the shutdown deadline), and no traceback.

On the three-node cluster: the order topic's partition is replicated to all three nodes,
every other topic lives on its leader alone; one follower of the order partition frozen
(SIGSTOP) holds every acks=all write to it until the leader drops it from the in-sync set
(`replica.lag.time.max.ms`, 30 s), far past HEDGER_SEND_TIMEOUT_S, while ticks and fills
still flow."""

from __future__ import annotations

import asyncio
import signal

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hedger.adapters.apache_kafka import ApacheKafka
from hedger.adapters.topics import ensure_topics
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    Producer,
    child_hedger,
    has_book,
    prefixed_settings,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def test_an_acknowledgement_timeout_exits_1_naming_it_in_one_line(
    kafka_cluster: ApacheKafka, topic_prefix: str
) -> None:
    bootstrap = kafka_cluster.bootstrap
    settings = prefixed_settings(
        bootstrap, topic_prefix, rate=mm.RATE, send_timeout_s=2.0, shutdown_timeout_s=3.0
    )
    leader, follower = kafka_cluster.nodes[0], kafka_cluster.nodes[1]
    await _create_topics(bootstrap, settings, leader.node_id)
    try:
        async with Producer(bootstrap) as feed, child_hedger(settings) as process:
            await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
            await wait_until(lambda: has_book(settings, "mm-1"))
            follower.signal(signal.SIGSTOP)
            await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 1)), "XYZ")
            code = await asyncio.to_thread(process.wait, 60)
            stderr = process.stderr.read().decode() if process.stderr else ""
    finally:
        follower.signal(signal.SIGCONT)

    assert code == 1, stderr
    causes = [line for line in stderr.splitlines() if "stopped on an error" in line]
    assert len(causes) == 1, stderr
    assert "DeliveryTimeoutError: the broker did not acknowledge 1 of 1 records" in causes[0]
    assert "HEDGER_SEND_TIMEOUT_S" in causes[0]
    assert "Traceback" not in stderr
    assert "of the stop request" not in stderr  # not blamed on the shutdown deadline


async def _create_topics(bootstrap: str, settings: Settings, leader: int) -> None:
    """The order topic on every node, led by `leader`; the others on `leader` alone."""
    others = [n for n in (1, 2, 3) if n != leader]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topic, -1, -1, replica_assignments={0: replicas})
                for topic, replicas in [
                    (settings.orders_topic, [leader, *others]),
                    *[(t, [leader]) for t in settings.topics if t != settings.orders_topic],
                ]
            ]
        )
    finally:
        await admin.close()
    await ensure_topics(bootstrap, settings.topics)  # returns once every node knows them
