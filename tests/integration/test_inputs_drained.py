"""`drained`: when a stream may be passed by the other in the event-time merge."""

from __future__ import annotations

import pytest
from aiokafka.structs import TopicPartition

from hedger.adapters.inputs import drained
from hedger.adapters.kafka import make_consumer
from tests.integration.harness import Producer, started

pytestmark = pytest.mark.broker


async def test_a_partition_is_drained_only_once_a_fetch_has_answered_and_all_is_read(
    kafka_bootstrap: str, kafka_topics
) -> None:
    (topic,) = await kafka_topics("fills")
    async with Producer(kafka_bootstrap) as feed:
        await feed.send(topic, b"{}", "mm-1")
    partition = TopicPartition(topic, 0)
    async with started(make_consumer(kafka_bootstrap, "drained", None)) as consumer:
        consumer.assign([partition])
        # No fetch has answered: a record may be waiting, so the merge must not pass it.
        assert consumer.highwater(partition) is None
        assert not await drained(consumer)
        records = await consumer.getmany(partition, timeout_ms=5_000)
        assert consumer.highwater(partition) == 1
        assert [r.value for r in records[partition]] == [b"{}"]
        assert await drained(consumer)
