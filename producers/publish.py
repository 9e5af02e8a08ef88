"""Publishing routed messages to Kafka paced by event time (the replayer's and simulator's).

Pacing: the message with event time `ts` is due at `wall_start + (ts - first_ts) / speed`,
always measured from the start, so sleeping late never accumulates drift; `speed=0` sends
as fast as possible. Messages with no usable `ts` go out as soon as they are reached.

Records are produced in batches per partition (aiokafka's batch API, keyed partitioning as
`send()` does it) and acknowledged every `batch_size` records and before the pacer sleeps,
each time within `deliver_timeout_s`.
Refused messages are reported as `"<source>:<line>: <reason>"` and skipped, or forwarded
too when `include_invalid` is set.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import RecordMetadata

from hedger.adapters.kafka import deliver, make_producer
from producers.routing import RoutedLine

DEFAULT_BATCH_SIZE = 500
DEFAULT_DELIVER_TIMEOUT_S = 30.0
_NS_PER_S = 1_000_000_000


class Progress(Protocol):
    """What the publisher needs of a progress bar (tqdm's interface)."""

    def update(self, n: float = 1) -> object: ...


class _NoProgress:
    def update(self, n: float = 1) -> None:
        return None


@dataclass(slots=True)
class ReplayStats:
    """What was sent: records per topic, refused messages, the event-time span sent."""

    records_by_topic: dict[str, int] = field(default_factory=dict)
    invalid_lines: int = 0
    invalid_forwarded: int = 0
    first_ts_ns: int | None = None
    last_ts_ns: int | None = None

    @property
    def records_sent(self) -> int:
        return sum(self.records_by_topic.values())

    def count(self, routed: RoutedLine) -> None:
        self.records_by_topic[routed.topic] = self.records_by_topic.get(routed.topic, 0) + 1
        if routed.ts_ns is not None:
            if self.first_ts_ns is None:
                self.first_ts_ns = routed.ts_ns
            self.last_ts_ns = routed.ts_ns

    def summary(self) -> dict[str, Any]:
        return {
            "records_by_topic": self.records_by_topic,
            "invalid_lines": self.invalid_lines,
            "invalid_forwarded": self.invalid_forwarded,
            "first_ts": self.first_ts_ns,
            "last_ts": self.last_ts_ns,
        }


def due_offset_s(ts_ns: int, first_ts_ns: int, speed: float) -> float:
    """Seconds after the wall-clock start at which the message with event time `ts_ns` is due.

    `speed` is event seconds per wall second (60 plays a minute in a second); 0 means
    as fast as possible, so everything is due at once. Never negative.
    """
    if speed < 0:
        raise ValueError(f"speed must be >= 0, got {speed!r}")
    if speed == 0:
        return 0.0
    return max(0.0, (ts_ns - first_ts_ns) / _NS_PER_S / speed)


def pacing_delays(timestamps_ns: Iterable[int], speed: float) -> list[float]:
    """The due offset of each timestamp from the first one: the whole schedule, no clock."""
    offsets: list[float] = []
    first: int | None = None
    for ts_ns in timestamps_ns:
        first = ts_ns if first is None else first
        offsets.append(due_offset_s(ts_ns, first, speed))
    return offsets


@dataclass(slots=True)
class Pacer:
    """Absolute schedule against a clock reading passed in: `delay_s(ts, now)` is the sleep
    still needed before sending, computed from the start every time (no drift)."""

    speed: float
    wall_start_s: float
    first_ts_ns: int | None = None

    def delay_s(self, ts_ns: int | None, now_s: float) -> float:
        if ts_ns is None:
            return 0.0
        if self.first_ts_ns is None:
            self.first_ts_ns = ts_ns
        due = self.wall_start_s + due_offset_s(ts_ns, self.first_ts_ns, self.speed)
        return max(0.0, due - now_s)


def report_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(frozen=True, slots=True)
class PublishOptions:
    speed: float = 1.0
    include_invalid: bool = False
    batch_size: int = DEFAULT_BATCH_SIZE
    deliver_timeout_s: float = DEFAULT_DELIVER_TIMEOUT_S

    def __post_init__(self) -> None:
        if self.speed < 0:
            raise ValueError(f"speed must be >= 0, got {self.speed!r}")


class Sink(Protocol):
    """Where the publisher puts messages: `add` queues one, `flush` returns once every
    queued message is acknowledged."""

    async def add(self, routed: RoutedLine) -> None: ...

    async def flush(self) -> None: ...


class KafkaSink:
    """Produces through aiokafka's batch API (`create_batch` / `send_batch`), one open
    batch per topic and partition. A message goes to the partition `send()` would choose:
    the producer's default partitioner (murmur2 of the key), computed once per key.
    """

    def __init__(self, producer: Any, deliver_timeout_s: float) -> None:
        self._producer = producer
        self._timeout_s = deliver_timeout_s
        self._partitioner = DefaultPartitioner()
        self._partitions: dict[tuple[str, bytes], int] = {}
        self._all: dict[str, list[int]] = {}
        self._open: dict[tuple[str, int], Any] = {}
        self._sent: list[Awaitable[RecordMetadata]] = []

    async def add(self, routed: RoutedLine) -> None:
        partition = self._partitions.get((routed.topic, routed.key))  # type: ignore[arg-type]
        if partition is None:
            partition = await self._partition(routed.topic, routed.key)
        where = (routed.topic, partition)
        batch = self._open.get(where)
        if batch is None:
            batch = self._open[where] = self._producer.create_batch()
        if batch.append(key=routed.key, value=routed.value, timestamp=None) is not None:
            return
        await self._send(where)  # full: send it and start the next one
        fresh = self._open[where] = self._producer.create_batch()
        if fresh.append(key=routed.key, value=routed.value, timestamp=None) is None:
            # Larger than an empty batch: send() refuses it with the producer's own error.
            del self._open[where]
            self._sent.append(await self._producer.send(routed.topic, routed.value, key=routed.key))

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
        for where in list(self._open):
            await self._send(where)
        sent, self._sent = self._sent, []
        await deliver(sent, self._timeout_s)


class Publisher:
    """Sends routed messages to a `Sink`, paced by `clock` and `sleep` (injectable, so
    pacing is testable without time), acknowledged every `batch_size` messages and before
    every pause."""

    def __init__(
        self,
        sink: Sink,
        options: PublishOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        report: Callable[[str], None] = report_to_stderr,
        progress: Progress | None = None,
    ) -> None:
        self.options = options
        self.stats = ReplayStats()
        self._sink = sink
        self._clock = clock
        self._sleep = sleep
        self._report = report
        self._progress = progress or _NoProgress()
        self._pacer = Pacer(options.speed, clock())
        self._unacknowledged = 0

    async def send_all(self, lines: Iterable[RoutedLine]) -> ReplayStats:
        for routed in lines:
            self._progress.update(1)
            if routed.error is not None:
                self.stats.invalid_lines += 1
                forward = self.options.include_invalid
                suffix = " (forwarded anyway)" if forward else " (skipped)"
                self._report(f"{routed.source}:{routed.line_number}: {routed.error}{suffix}")
                if not forward:
                    continue
                self.stats.invalid_forwarded += 1
            await self._send(routed)
        await self._flush()
        return self.stats

    async def _send(self, routed: RoutedLine) -> None:
        paced = self.options.speed > 0
        if paced and self._pacer.delay_s(routed.ts_ns, self._clock()) > 0:
            await self._flush()
            # Re-read the clock after the flush: the schedule is absolute, not cumulative.
            await self._sleep(self._pacer.delay_s(routed.ts_ns, self._clock()))
        await self._sink.add(routed)
        self.stats.count(routed)
        self._unacknowledged += 1
        if self._unacknowledged >= self.options.batch_size:
            await self._flush()

    async def _flush(self) -> None:
        self._unacknowledged = 0
        await self._sink.flush()


async def publish(
    lines: Iterable[RoutedLine],
    bootstrap: str,
    options: PublishOptions,
    *,
    client_id: str,
    report: Callable[[str], None] = report_to_stderr,
    progress: Progress | None = None,
) -> ReplayStats:
    """Connect to `bootstrap`, send `lines` with a `Publisher`, close within the deadline."""
    producer = make_producer(bootstrap, client_id=client_id)
    try:
        await producer.start()
        sink = KafkaSink(producer, options.deliver_timeout_s)
        publisher = Publisher(sink, options, report=report, progress=progress)
        return await publisher.send_all(lines)
    finally:
        async with asyncio.timeout(options.deliver_timeout_s):
            await producer.stop()
