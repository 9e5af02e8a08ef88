"""Everything the hedger writes to Kafka in one batch: hedge orders and dead letters.

Sends are queued with `send()`; `take()` hands a batch's over as `Sends`, and `settle()`
waits for them together, so a batch costs one broker round trip; offsets are committed only
after its `Sends` are settled. While `hold_sends` says so (a transaction is ending and more
records wait: `CommitSchedule.hold_sends`), records are held, in order, instead of sent, and
`release()` sends them once the next transaction opens; a held record's future is answered
when its send is. Orders and cancels name the input record they were decided on in their
headers (`source_topic`, `source_partition`, `source_offset`, as dead letters do): a restart
uses them to tell what was decided on inputs it will handle again (sent, but not committed,
before a crash).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from aiokafka.structs import ConsumerRecord, RecordMetadata, TopicPartition

from hedger.adapters.kafka import acknowledgements, deliver, queue_send
from hedger.adapters.record_signing import RecordSigner
from hedger.codec import encode_order
from hedger.core.actions import SubmitHedgeOrder

log = logging.getLogger(__name__)


# What a dead letter keeps of a record larger than the service accepts: enough to see what
# it was; its size and provenance are in the headers. Forwarding the whole record could
# exceed the dead-letter topic's or the producer's size limit and stop the service.
EXCERPT_BYTES = 4096

Headers = list[tuple[str, bytes]]
# A record held back: its topic, value and send options, and the future its send answers.
_Held = tuple[str, bytes, dict[str, Any], asyncio.Future[RecordMetadata]]


@dataclass(frozen=True)
class Sends:
    """A batch's records queued on the producer: each order's or control record's send, each
    dead letter's (with where its input came from), and how many dead letters the producer
    refused before sending."""

    pending: list[asyncio.Future[RecordMetadata]]
    dead_letters: list[tuple[str, asyncio.Future[RecordMetadata]]]
    lost: int


class Outbox:
    def __init__(
        self,
        producer: AIOKafkaProducer,
        before_send: Callable[[], Awaitable[None]],
        hold_sends: Callable[[], bool],
        orders_topic: str,
        dlq_topic: str,
        max_message_bytes: int,
        send_timeout_s: float,
        signer: RecordSigner | None = None,
    ) -> None:
        self.producer = producer
        self._signer = signer  # every record written carries the signature, when set
        self._before_send = before_send  # opens the batch's transaction, if any
        self._hold_sends = hold_sends
        self._held: deque[_Held] = deque()
        self._send_timeout_s = send_timeout_s
        self._orders_topic = orders_topic
        self._dlq_topic = dlq_topic
        self._max_message_bytes = max_message_bytes
        self._pending: list[asyncio.Future[RecordMetadata]] = []
        self._dead_letters: list[tuple[str, asyncio.Future[RecordMetadata]]] = []
        self._lost = 0  # dead letters refused before they were sent
        # Per order partition, the offset after the last order acknowledged (the state has
        # seen every order before it, for snapshots); the runtime clears it at a rebuild.
        self.orders_end: dict[int, int] = {}

    async def order(
        self, order: SubmitHedgeOrder, source: ConsumerRecord[bytes, bytes] | None
    ) -> None:
        await self.send(self._orders_topic, encode_order(order), order.book, source)

    async def send(
        self, topic: str, value: bytes, key: str, source: ConsumerRecord[bytes, bytes] | None
    ) -> None:
        """Queue any other record of the batch (a cancel, a latch on the control topic);
        `source` is the input it was decided on (None for decisions on rebuilt state)."""
        headers = None if source is None else source_headers(source)
        future = await self._queue(topic, value, key=key.encode(), headers=headers)
        self._pending.append(future)

    async def dead_letter(
        self, record: ConsumerRecord[bytes, bytes], kind: str, detail: str
    ) -> None:
        """Forward the original bytes, with why and where from in the headers; of a record
        over the size limit, its first `EXCERPT_BYTES` (header `original_bytes` its size)."""
        log.warning(
            "dead-lettered %s[%d]@%d: %s: %s",
            record.topic,
            record.partition,
            record.offset,
            kind,
            detail,
        )
        source = f"{record.topic}[{record.partition}]@{record.offset}"
        headers = [
            ("reason", kind.encode()),
            ("detail", detail.encode()[:1024]),
            *source_headers(record),
        ]
        value, key = record.value or b"", record.key
        if len(value) + len(key or b"") > self._max_message_bytes:
            headers.append(("original_bytes", str(len(value)).encode()))
            value, key = value[:EXCERPT_BYTES], (key or b"")[:EXCERPT_BYTES] or None
        try:
            future = await self._queue(self._dlq_topic, value, key=key, headers=headers)
        except KafkaError as error:  # refused before sending: too large for the producer
            self._lost += _lost_for_good(source, error)
            return
        self._dead_letters.append((source, future))

    async def write(
        self, topic: str, partition: int, records: list[tuple[bytes, bytes]]
    ) -> list[RecordMetadata]:
        """Send (key, value) records in the batch (its transaction, if any) and wait for
        them: a snapshot's manifest names the offsets of its chunks. Never held: a snapshot
        is taken only while none is (`CommitSchedule.holding_back`)."""
        assert not self._held, "a snapshot is never written behind records held back"
        await self._before_send()
        futures = [
            await self._send(topic, value, {"key": key, "partition": partition})
            for key, value in records
        ]
        return await deliver(futures, self._send_timeout_s)

    async def _queue(
        self, topic: str, value: bytes, **options: Any
    ) -> asyncio.Future[RecordMetadata]:
        if self._held or self._hold_sends():  # behind what is held already, in order
            held: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
            self._held.append((topic, value, options, held))
            return held
        await self._before_send()
        return await self._send(topic, value, options)

    @property
    def held(self) -> int:
        """How many records are held, to be sent by `release`."""
        return len(self._held)

    async def release(self) -> None:
        """Send the records held, in order, in the transaction `before_send` opens (once the
        one ending has ended). A record the producer refuses answers its future with the
        error, as the broker's refusal would."""
        if not self._held:
            return
        await self._before_send()
        while self._held:  # one at a time: what an error leaves is still held
            topic, value, options, future = self._held[0]
            try:
                sent = await self._send(topic, value, options)
            except KafkaError as error:
                future.set_exception(error)
            else:
                sent.add_done_callback(functools.partial(_answer, future))
            self._held.popleft()

    def drop_held(self) -> None:
        """Never send what is held (`CommitSchedule.drop_held`)."""
        self._held.clear()

    async def _send(
        self, topic: str, value: bytes, options: dict[str, Any]
    ) -> asyncio.Future[RecordMetadata]:
        if self._signer is not None:
            signature = self._signer.header(topic, options.get("key"), value)
            options["headers"] = [*(options.get("headers") or []), signature]
        return await queue_send(self.producer, self._send_timeout_s, topic, value, **options)

    def take(self) -> Sends:
        """The batch's sends, handed over; the next batch's start empty."""
        sends = Sends(self._pending, self._dead_letters, self._lost)
        self._pending, self._dead_letters, self._lost = [], [], 0
        return sends

    async def settle(self, sends: Sends) -> int:
        """Wait for a batch's acknowledgements. An order or control record not written
        raises, and so does a dead letter the broker may still take (a timeout); one it
        refused for good is logged and counted (the count is returned), so a record that
        cannot be dead-lettered never stops the service."""
        for metadata in await deliver(sends.pending, self._send_timeout_s):
            if metadata.topic == self._orders_topic:
                self.orders_end[metadata.partition] = max(
                    self.orders_end.get(metadata.partition, 0), metadata.offset + 1
                )
        lost = sends.lost
        futures = [future for _, future in sends.dead_letters]
        results = await acknowledgements(futures, self._send_timeout_s)
        for (source, _), result in zip(sends.dead_letters, results, strict=True):
            if isinstance(result, KafkaError):
                lost += _lost_for_good(source, result)
            elif isinstance(result, BaseException):
                raise result
        return lost


def source_headers(record: ConsumerRecord[bytes, bytes]) -> Headers:
    return [
        ("source_topic", record.topic.encode()),
        ("source_partition", str(record.partition).encode()),
        ("source_offset", str(record.offset).encode()),
    ]


def source_of(headers: Sequence[tuple[str, bytes]]) -> tuple[TopicPartition, int] | None:
    """The input partition and offset `source_headers` named, or None (no input behind it)."""
    named = dict(headers)
    try:
        topic = named["source_topic"].decode()
        partition, offset = int(named["source_partition"]), int(named["source_offset"])
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
    return TopicPartition(topic, partition), offset


def _answer(future: asyncio.Future[RecordMetadata], sent: asyncio.Future[RecordMetadata]) -> None:
    """Answer a held record's `future` as its send `sent` was answered."""
    if future.done():  # given up (cancelled) while its send was in flight
        return
    if sent.cancelled():
        future.cancel()
    elif (error := sent.exception()) is not None:
        future.set_exception(error)
    else:
        future.set_result(sent.result())


def _lost_for_good(source: str, error: KafkaError) -> int:
    """1 for a dead letter refused for good (too large for the topic, say), logged: retrying
    it would loop. A retriable error (the broker away) is raised, like an order's."""
    if error.retriable:
        raise error
    log.error("could not dead-letter %s: %r; skipped", source, error)
    return 1
