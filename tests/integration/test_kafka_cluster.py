"""The three-node Apache Kafka cluster of the fault tests: replicated as configured, and
writable with acks=all while one node is down, not while two are."""

from __future__ import annotations

import asyncio
import signal

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from hedger.adapters.apache_kafka import ApacheKafka
from hedger.adapters.kafka import make_producer
from hedger.adapters.topics import ensure_topics
from tests.integration.harness import read_topic, started

pytestmark = pytest.mark.broker

DEADLINE_S = 90.0
MIN_INSYNC_TIMEOUT_S = 8.0


async def test_cluster_replicates_every_partition_on_three_nodes(
    kafka_cluster: ApacheKafka, topic_prefix: str
) -> None:
    topic = topic_prefix + "replicated"
    async with asyncio.timeout(DEADLINE_S):
        await ensure_topics(kafka_cluster.bootstrap, [topic], partitions=2, replication_factor=3)
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_cluster.bootstrap)
        await admin.start()
        try:
            # Each node learns of the topic in its own time: ask until this one knows.
            (described,) = await admin.describe_topics([topic])
            while len(described["partitions"]) < 2:
                await asyncio.sleep(0.1)
                (described,) = await admin.describe_topics([topic])
        finally:
            await admin.close()
    node_ids = {node.node_id for node in kafka_cluster.nodes}
    assert [sorted(p["replicas"]) for p in described["partitions"]] == [sorted(node_ids)] * 2


async def test_cluster_takes_acks_all_writes_with_one_node_down_and_refuses_with_two(
    kafka_cluster: ApacheKafka, topic_prefix: str
) -> None:
    topic = topic_prefix + "survives"
    first, second = kafka_cluster.nodes[1], kafka_cluster.nodes[2]
    async with asyncio.timeout(DEADLINE_S * 2):
        await ensure_topics(kafka_cluster.bootstrap, [topic], replication_factor=3)
        try:
            first.signal(signal.SIGKILL)
            async with started(make_producer(kafka_cluster.bootstrap, "cluster")) as producer:
                await producer.send_and_wait(topic, b"one node down")
                second.signal(signal.SIGSTOP)  # one replica left: below min.insync.replicas
                with pytest.raises((KafkaError, TimeoutError)):
                    async with asyncio.timeout(MIN_INSYNC_TIMEOUT_S):
                        await producer.send_and_wait(topic, b"two nodes down")
                second.signal(signal.SIGCONT)  # before stop(), which flushes
        finally:
            second.signal(signal.SIGCONT)
            await asyncio.to_thread(kafka_cluster.restart, first)
        records = await read_topic(kafka_cluster.bootstrap, topic, 1)
    assert records[0].value == b"one node down"
