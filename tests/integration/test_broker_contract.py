"""What the hedger relies on from its broker, checked against whichever tier conftest picked."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from hedger.adapters.topics import ensure_topics, highwaters
from tests.integration.harness import started

pytestmark = pytest.mark.broker

TEST_DEADLINE_S = 60.0
KEYS = [f"key-{index}".encode() for index in range(7)]

KafkaTopics = Callable[..., Awaitable[list[str]]]  # the conftest fixture


def safe_producer(bootstrap: str, **settings: Any) -> AIOKafkaProducer:
    return AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **settings)


def group_consumer(bootstrap: str, topic: str, group_id: str) -> AIOKafkaConsumer:
    # Tansu answers JoinGroup after session_timeout / 2, and numbers its first generation
    # 0, for which aiokafka sends no LeaveGroup: a successor then waits for the session
    # to expire. 6 s is the smallest session Kafka accepts by default
    # (group.min.session.timeout.ms), so this keeps the test short on every tier.
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )


async def produce_keyed(producer: AIOKafkaProducer, topic: str, first: int, count: int) -> None:
    """Values are `seq` numbers, increasing per key; one gathered batch of futures."""
    sends = []
    for seq in range(first, first + count):
        key = KEYS[seq % len(KEYS)]
        sends.append(await producer.send(topic, value=str(seq).encode(), key=key))
    await asyncio.gather(*sends)


async def consume_and_commit(consumer: AIOKafkaConsumer, expected: int) -> list[Any]:
    """Read `expected` records, committing `offset + 1` per partition after each batch."""
    records: list[Any] = []
    while len(records) < expected:
        batches = await consumer.getmany(timeout_ms=200)
        for partition, batch in batches.items():
            records.extend(batch)
            await consumer.commit({partition: batch[-1].offset + 1})
    assert len(records) == expected
    return records


def seqs_by_key(records: list[Any]) -> dict[bytes, list[int]]:
    by_key: dict[bytes, list[int]] = defaultdict(list)
    for record in records:
        by_key[record.key].append(int(record.value))
    return by_key


async def test_group_consumer_commits_offsets_and_second_member_resumes(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, topic_prefix: str
) -> None:
    async with asyncio.timeout(TEST_DEADLINE_S):
        (topic,) = await kafka_topics("contract", partitions=3)
        group_id = topic_prefix + "group"
        async with started(safe_producer(kafka_bootstrap, linger_ms=5)) as producer:
            await produce_keyed(producer, topic, first=0, count=300)
            async with started(group_consumer(kafka_bootstrap, topic, group_id)) as first:
                records = await consume_and_commit(first, expected=300)
                positions = {tp: await first.position(tp) for tp in first.assignment()}
                committed = {tp: await first.committed(tp) for tp in first.assignment()}
            await produce_keyed(producer, topic, first=300, count=40)
        async with started(group_consumer(kafka_bootstrap, topic, group_id)) as second:
            resumed = await consume_and_commit(second, expected=40)
            await asyncio.sleep(0.3)  # nothing older than the commit may trickle in
            assert await second.getmany(timeout_ms=200) == {}

    assert seqs_by_key(records) == {key: list(range(i, 300, 7)) for i, key in enumerate(KEYS)}
    assert committed == positions
    assert sorted(int(record.value) for record in resumed) == list(range(300, 340))
    for record in resumed:
        assert record.offset >= committed[TopicPartition(topic, record.partition)]


async def test_highwaters_counts_every_record_of_a_multi_record_last_batch(
    kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    async with asyncio.timeout(TEST_DEADLINE_S):
        (topic,) = await kafka_topics("highwater", partitions=3)
        async with started(safe_producer(kafka_bootstrap)) as producer:
            for size in (3, 5):  # partition 0 ends with a batch of five records
                batch = producer.create_batch()
                for seq in range(size):
                    batch.append(key=None, value=str(seq).encode(), timestamp=None)
                await (await producer.send_batch(batch, topic, partition=0))
            await producer.send_and_wait(topic, b"single", partition=1)
        found = await highwaters(kafka_bootstrap, topic)

    assert found == {0: 8, 1: 1, 2: 0}


async def test_highwaters_rejects_an_unknown_topic(kafka_bootstrap: str, topic_prefix: str) -> None:
    async with asyncio.timeout(TEST_DEADLINE_S):
        with pytest.raises(ValueError, match="unknown topic"):
            await highwaters(kafka_bootstrap, topic_prefix + "never-created")


async def test_ensure_topics_twice_is_idempotent(kafka_bootstrap: str, topic_prefix: str) -> None:
    names = [topic_prefix + "a", topic_prefix + "b"]
    async with asyncio.timeout(TEST_DEADLINE_S):
        await ensure_topics(kafka_bootstrap, names, partitions=2)
        await ensure_topics(kafka_bootstrap, names, partitions=2)
        found = [await highwaters(kafka_bootstrap, name) for name in names]

    assert found == [{0: 0, 1: 0}, {0: 0, 1: 0}]


async def test_ensure_topics_with_other_partition_count_raises(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    name = topic_prefix + "fixed"
    async with asyncio.timeout(TEST_DEADLINE_S):
        await ensure_topics(kafka_bootstrap, [name], partitions=2)
        with pytest.raises(ValueError, match="exists with 2 partitions, not 3"):
            await ensure_topics(kafka_bootstrap, [name], partitions=3)
