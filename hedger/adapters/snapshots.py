"""Book-state snapshots on a compacted topic, so a restart reads a snapshot and the tail.

A snapshot is the engine's state (`hedger.engine_snapshot`) after every input before its
offsets: per fill and price partition the first offset it lacks, and per order partition
the first order it has not seen. It is written, on partition 0 of the snapshot topic, as
chunks of at most `HEDGER_MAX_MESSAGE_BYTES` (key `<name>#<i>`) and then a manifest (key
`<name>`) naming each chunk's offset and the digest of them all. Under exactly once they go
in the batch's transaction, with the offsets they stand for; a snapshot whose manifest never
committed is not seen. Compaction keeps the last chunk of each index and the last manifest.

The name is the instance's group, fill topic and fill partitions: a snapshot serves an
instance that owns exactly the partitions it was taken for. Anything else (no snapshot,
another fingerprint or configuration, a missing or altered chunk) is a reason, logged, to
rebuild from the start of the topics, as without snapshots.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeAlias

import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, RecordMetadata, TopicPartition

from hedger.adapters.kafka import make_consumer
from hedger.adapters.receipt import ReceiptState
from hedger.adapters.record_signing import RecordSigner, unbelieved
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.engine_snapshot import FINGERPRINT, SnapshotError, dump_engine, load_engine

log = logging.getLogger(__name__)

Offsets = dict[TopicPartition, int]
Record: TypeAlias = ConsumerRecord[bytes, bytes]
# Sends (key, value) records to a topic's partition in the batch's transaction, if any, and
# returns their acknowledgements (`Outbox.write`).
Write = Callable[[str, int, list[tuple[bytes, bytes]]], Awaitable[list[RecordMetadata]]]

# Records read at a time, going back from the end, to find the last manifest of a name.
_WINDOW = 64


@dataclasses.dataclass(frozen=True)
class Snapshot:
    engine: HedgeEngine
    inputs: Offsets  # per fill and price partition, the first offset the state lacks
    orders: dict[int, int]  # per order partition, the first order the state has not seen
    receipts: ReceiptState  # the tick receipt times the engine's price guard was judged by
    taken_ns: int


def snapshot_name(group_id: str, fills_topic: str, partitions: set[int]) -> str:
    return f"{group_id}|{fills_topic}|{','.join(map(str, sorted(partitions)))}"


async def write_snapshot(
    write: Write, topic: str, name: str, snapshot: Snapshot, chunk_bytes: int
) -> int:
    """Write `snapshot` named `name`; returns the size of its engine state in bytes."""
    data = dump_engine(snapshot.engine)
    starts = range(0, len(data), chunk_bytes)
    chunks = await write(
        topic,
        0,
        [
            (f"{name}#{i}".encode(), data[start : start + chunk_bytes])
            for i, start in enumerate(starts)
        ],
    )
    inputs = sorted(snapshot.inputs.items())
    manifest = {
        "generation": uuid.uuid4().hex,
        "fingerprint": FINGERPRINT,
        "chunks": [metadata.offset for metadata in chunks],
        "sha256": hashlib.sha256(data).hexdigest(),
        "inputs": [[tp.topic, tp.partition, offset] for tp, offset in inputs],
        "orders": sorted(snapshot.orders.items()),
        "receipts": snapshot.receipts,
        "taken_ns": snapshot.taken_ns,
    }
    await write(topic, 0, [(name.encode(), orjson.dumps(manifest))])
    return len(data)


async def read_snapshot(
    bootstrap: str,
    topic: str,
    name: str,
    config: EngineConfig,
    signer: RecordSigner | None = None,
) -> Snapshot | str:
    """The last snapshot named `name`, or why there is none to use. With `signer`, its
    manifest must carry the hedger's signature (the manifest's SHA-256 covers the chunks)."""
    consumer = make_consumer(bootstrap, "hedger-snapshots", None)
    await consumer.start()
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        end = (await consumer.end_offsets([partition]))[partition]
        found = await _last_manifest(consumer, partition, end, name.encode())
        if found is None:
            return "no snapshot"
        if unbelieved(signer, found) is not None:
            return "snapshot not signed with the key of HEDGER_RECORD_KEY_FILE"
        manifest: dict[str, Any] = orjson.loads(found.value or b"")
        if manifest["fingerprint"] != FINGERPRINT or "receipts" not in manifest:
            return "snapshot written by other hedger code"
        chunks = [
            await _chunk(consumer, partition, offset, f"{name}#{index}".encode())
            for index, offset in enumerate(manifest["chunks"])
        ]
        data = b"".join(chunks)
    finally:
        await consumer.stop()
    if hashlib.sha256(data).hexdigest() != manifest["sha256"]:
        return "snapshot chunks replaced or missing (a later snapshot cut short?)"
    try:
        engine = load_engine(data, config)
    except SnapshotError as error:
        return str(error)
    inputs = {TopicPartition(t, p): offset for t, p, offset in manifest["inputs"]}
    orders = {int(p): offset for p, offset in manifest["orders"]}
    return Snapshot(engine, inputs, orders, manifest["receipts"], manifest["taken_ns"])


async def _last_manifest(
    consumer: AIOKafkaConsumer, partition: TopicPartition, end: int, key: bytes
) -> Record | None:
    """Going back from `end` a window at a time, the last record keyed `key`."""
    while end > 0:
        start = max(end - _WINDOW, 0)
        found = await _records(consumer, partition, start, end)
        manifests = [record for record in found if record.key == key]
        if manifests:
            return manifests[-1]
        end = start
    return None


async def _chunk(
    consumer: AIOKafkaConsumer, partition: TopicPartition, offset: int, key: bytes
) -> bytes:
    """The record at `offset` if it is keyed `key`, else nothing (compacted away)."""
    for record in await _records(consumer, partition, offset, offset + 1):
        if record.offset == offset and record.key == key:
            return record.value or b""
    return b""


async def _records(
    consumer: AIOKafkaConsumer, partition: TopicPartition, start: int, end: int
) -> list[Record]:
    """The records from `start` to before `end` (fewer where compaction or aborted
    transactions left gaps)."""
    consumer.seek(partition, start)
    records: list[Record] = []
    while await consumer.position(partition) < end:
        batch = await consumer.getmany(partition, timeout_ms=200)
        records += [r for r in batch.get(partition, []) if r.offset < end]
    return records


class SnapshotSchedule:
    """When the next snapshot is due: `interval_s` after the last, and only if the state
    moved since. A rebuild makes one due as soon as the inputs are caught up (or once the
    interval has passed), so its reading is not paid again; not in the middle of the
    catch-up that follows, which it would hold up: 25-28 ms after the first batch, a tenth
    of a 50,000-tick catch-up on Apache Kafka (`benchmarks/service_catch_up.py`)."""

    def __init__(self, interval_s: float, clock: Callable[[], float]) -> None:
        self.enabled = interval_s > 0
        self._interval_s = interval_s
        self._clock = clock
        self._at = -math.inf
        self._moved = False
        self._rebuilt = False

    def due(self, catching_up: bool) -> bool:
        if not self.enabled or not self._moved:
            return False
        if self._rebuilt and not catching_up:
            return True
        return self._clock() - self._at >= self._interval_s

    def moved(self) -> None:
        self._moved = True

    def rebuilt(self) -> None:
        self._moved, self._rebuilt, self._at = True, True, self._clock()

    def written(self) -> None:
        self._moved, self._rebuilt, self._at = False, False, self._clock()

    def failed(self) -> None:
        """A write failed: the next try after the interval, as after a written one."""
        self._rebuilt, self._at = False, self._clock()
