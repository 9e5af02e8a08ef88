"""Everything the hedger writes to Kafka in one batch: hedge orders and dead letters.

Sends are queued with `send()` and awaited together by `flush()`, so a batch costs one
broker round trip; offsets are committed only after `flush()` returns.
"""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.structs import ConsumerRecord, RecordMetadata

from hedger.adapters.kafka import deliver
from hedger.codec import encode_order
from hedger.core.actions import SubmitHedgeOrder

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, producer: AIOKafkaProducer, orders_topic: str, dlq_topic: str) -> None:
        self._producer = producer
        self._orders_topic = orders_topic
        self._dlq_topic = dlq_topic
        self._pending: list[asyncio.Future[RecordMetadata]] = []

    async def order(self, order: SubmitHedgeOrder) -> None:
        await self.send(self._orders_topic, encode_order(order), order.book)

    async def send(self, topic: str, value: bytes, key: str) -> None:
        """Queue any other record of the batch (a cancel, a latch on the control topic)."""
        self._pending.append(await self._producer.send(topic, value, key=key.encode()))

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], kind: str, detail: str
    ) -> None:
        """Forward the original bytes, with why and where from in the headers."""
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            kind,
            detail,
        )
        headers = [
            ("reason", kind.encode()),
            ("detail", detail.encode()[:1024]),
            ("source_topic", record.topic.encode()),
            ("source_partition", str(record.partition).encode()),
            ("source_offset", str(record.offset).encode()),
        ]
        future = await self._producer.send(
            self._dlq_topic, record.value or b"", key=record.key, headers=headers
        )
        self._pending.append(future)

    async def flush(self, timeout_s: float) -> None:
        pending, self._pending = self._pending, []
        await deliver(pending, timeout_s)
