"""Producing routed records through aiokafka's batch API, partitioned as `send()` would."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata

from hedger.adapters.kafka import deliver
from producers.routing import Record


class KafkaSink:
    """Produces through aiokafka's batch API (`create_batch` / `send_batch`), one open
    batch per topic and partition. A message goes to the partition `send()` would choose:
    the producer's default partitioner (murmur2 of the key), computed once per key.

    Topics keep their relative order: a record of another topic than the one before it
    first sends the other topics' open batches. Otherwise a fill could sit in its topic's
    half-empty batch while hundreds of later prices went out in full ones, and a consumer
    merging the two topics by event time (the hedger) would book it far too late.
    """

    def __init__(self, producer: Any, deliver_timeout_s: float) -> None:
        self._producer = producer
        self._timeout_s = deliver_timeout_s
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[tuple[str, bytes], int] = {}
        self._all: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], Any] = {}
        self._sent: list[Awaitable[RecordMetadata]] = []
        self._topic: str | None = None  # of the last record added

    async def add(self, records: Sequence[Record]) -> None:
        """Append `records` to their partitions' open batches, sending each one that fills."""
        places, open_batches = self._partitions, self._open
        for topic, key, value, _ts_ns in records:
            if topic != self._topic:
                for where in [where for where in open_batches if where[0] != topic]:
                    await self._send(where)
                self._topic = topic
            partition = places.get((topic, key))  # type: ignore[arg-type]
            if partition is None:
                partition = await self._partition(topic, key)
            where = (topic, partition)
            batch = open_batches.get(where)
            if batch is None:
                batch = open_batches[where] = self._producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                await self._add_to_full(where, key, value)

    async def _add_to_full(self, where: tuple[str, int], key: bytes | None, value: bytes) -> None:
        await self._send(where)  # full: send it and start the next one
        fresh = self._open[where] = self._producer.create_batch()
        if fresh.append(key=key, value=value, timestamp=None) is None:
            # Larger than an empty batch: send() refuses it with the producer's own error.
            del self._open[where]
            self._sent.append(await self._producer.send(where[0], value, key=key))

    async def _partition(self, topic: str, key: bytes | None) -> int:
        if topic not in self._all:
            self._all[topic] = sorted(await self._producer.partitions_for(topic))
        every = self._all[topic]
        if key is None:
            return int(self._partitioner(None, every, every))
        found = self._partitions.get((topic, key))
        if found is None:
            found = self._partitions[(topic, key)] = int(self._partitioner(key, every, every))
        return found

    async def _send(self, where: tuple[str, int]) -> None:
        batch = self._open.pop(where)
        self._sent.append(await self._producer.send_batch(batch, where[0], partition=where[1]))

    async def flush(self) -> None:
        """Send every open batch; return once all sent are acknowledged (or TimeoutError)."""
        for where in list(self._open):
            await self._send(where)
        sent, self._sent = self._sent, []
        await deliver(sent, self._timeout_s)
