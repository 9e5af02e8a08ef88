"""KafkaSink keeps the order of records across topics.

A fake producer stands in for aiokafka's batch API here: what is checked is the order in
which the sink hands batches over, not the broker (the replay tests use a real one).
"""

from __future__ import annotations

import asyncio
from typing import Any

from producers.kafka_sink import KafkaSink

BATCH_CAPACITY = 3


class _Batch:
    def __init__(self) -> None:
        self.values: list[bytes] = []

    def append(self, key: bytes | None, value: bytes, timestamp: int | None) -> object | None:
        if len(self.values) == BATCH_CAPACITY:
            return None  # full, as aiokafka's builder answers
        self.values.append(value)
        return object()


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[bytes]]] = []

    def create_batch(self) -> _Batch:
        return _Batch()

    async def partitions_for(self, topic: str) -> set[int]:
        return {0}

    async def send_batch(self, batch: _Batch, topic: str, partition: int) -> Any:
        self.sent.append((topic, batch.values))
        done = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


def test_a_record_is_never_handed_over_after_a_later_record_of_another_topic() -> None:
    # Mostly prices, a fill now and then: the fill's half-empty batch must not wait while
    # full batches of later prices go out.
    records = [("prices", b"k", f"p{i}".encode(), i) for i in range(10)]
    records.insert(4, ("fills", b"b", b"f1", 4))
    records.insert(9, ("fills", b"b", b"f2", 8))
    producer = _Producer()

    async def run() -> None:
        sink = KafkaSink(producer, deliver_timeout_s=1.0)
        await sink.add(records)
        await sink.flush()

    asyncio.run(run())
    handed_over = {
        value: index for index, (_, values) in enumerate(producer.sent) for value in values
    }
    order = [handed_over[value] for _, _, value, _ in records]
    assert order == sorted(order)
    assert sorted(handed_over) == sorted(value for _, _, value, _ in records)
