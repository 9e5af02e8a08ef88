"""Publishing routed messages to Kafka paced by event time (the replayer's and simulator's).

Pacing: the message with event time `ts` is due at `wall_start + (ts - first_ts) / speed`,
always measured from the start, so sleeping late never accumulates drift; `speed=0` sends
as fast as possible. Messages with no usable `ts` go out as soon as they are reached.

Records are produced in batches per partition (aiokafka's batch API, keyed partitioning as
`send()` does it) and acknowledged every `batch_size` records and before the pacer sleeps,
each time within `deliver_timeout_s`. Messages arrive a chunk at a time (`RoutedChunk`)
and go to the sink in slices, so a message costs no await and no object of its own.
Refused messages are reported as `"<source>:<line>: <reason>"` and skipped, or forwarded
too when `include_invalid` is set.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Protocol

from hedger.adapters.kafka import make_producer, quiet
from producers.kafka_sink import KafkaSink
from producers.routing import Record, RoutedChunk, RoutedLine, chunks_of

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

    def count(self, records: Sequence[Record]) -> None:
        """Count records just sent."""
        for topic, sent in Counter(map(itemgetter(0), records)).items():
            self.records_by_topic[topic] = self.records_by_topic.get(topic, 0) + sent
        stamps = (ts_ns for *_, ts_ns in records if ts_ns is not None)
        if self.first_ts_ns is None:
            self.first_ts_ns = next(stamps, None)
        last = next((ts_ns for *_, ts_ns in reversed(records) if ts_ns is not None), None)
        self.last_ts_ns = last if last is not None else self.last_ts_ns

    def in_words(self) -> str:
        """What was sent, in one line (`sent 120 records (md.prices 100, exec.fills 20)`)."""
        topics = ", ".join(f"{topic} {sent}" for topic, sent in self.records_by_topic.items())
        skipped = self.invalid_lines - self.invalid_forwarded
        words = f"sent {self.records_sent} records" + (f" ({topics})" if topics else "")
        return words + (f", skipped {skipped} invalid" if skipped else "")

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
    """Where the publisher puts messages: `add` queues some, in order, `flush` returns once
    every queued message is acknowledged."""

    async def add(self, records: Sequence[Record]) -> None: ...

    async def flush(self) -> None: ...


class Publisher:
    """Sends routed messages to a `Sink`, paced by `clock` and `sleep` (injectable, so
    pacing is testable without time), acknowledged every `batch_size` messages and before
    every pause. The progress bar advances by every message sent or skipped; `stats`, when
    given, is where the publisher counts what it sent (the caller's, so it has them even if
    the sending is interrupted)."""

    def __init__(
        self,
        sink: Sink,
        options: PublishOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        report: Callable[[str], None] = report_to_stderr,
        progress: Progress | None = None,
        stats: ReplayStats | None = None,
    ) -> None:
        self.options = options
        self.stats = stats if stats is not None else ReplayStats()
        self._sink = sink
        self._clock = clock
        self._sleep = sleep
        self._report = report
        # Not `progress or ...`: a disabled tqdm (no terminal) refuses bool().
        self._progress = progress if progress is not None else _NoProgress()
        self._pacer = Pacer(options.speed, clock())
        self._unacknowledged = 0

    async def send_all(self, lines: Iterable[RoutedLine]) -> ReplayStats:
        """Send `lines` in order; return what was sent."""
        return await self.send_chunks(chunks_of(lines))

    async def send_chunks(self, chunks: Iterable[RoutedChunk]) -> ReplayStats:
        """Send the messages of `chunks` in order; return what was sent."""
        for chunk in chunks:
            if self.options.speed > 0:
                # One message at a time, so a refusal is reported when its turn comes.
                for index in range(len(chunk.records)):
                    await self._send_chunk(chunk.subset([index]))
            else:
                await self._send_chunk(chunk)
        await self._flush()
        return self.stats

    async def _send_chunk(self, chunk: RoutedChunk) -> None:
        records = self._accepted(chunk)
        self._progress.update(len(chunk.records) - len(records))  # refused and skipped
        if self.options.speed > 0 and records:
            await self._pace(records[0][3])
        await self._send(records)

    def _accepted(self, chunk: RoutedChunk) -> list[Record]:
        """The chunk's records to send, after reporting its refused ones."""
        if not chunk.errors:
            return chunk.records
        forward = self.options.include_invalid
        suffix = " (forwarded anyway)" if forward else " (skipped)"
        for index, error in chunk.errors.items():
            self._report(f"{chunk.source}:{chunk.line_numbers[index]}: {error}{suffix}")
        self.stats.invalid_lines += len(chunk.errors)
        if forward:
            self.stats.invalid_forwarded += len(chunk.errors)
            return chunk.records
        return [r for index, r in enumerate(chunk.records) if index not in chunk.errors]

    async def _pace(self, ts_ns: int | None) -> None:
        if self._pacer.delay_s(ts_ns, self._clock()) > 0:
            await self._flush()
            # Re-read the clock after the flush: the schedule is absolute, not cumulative.
            await self._sleep(self._pacer.delay_s(ts_ns, self._clock()))

    async def _send(self, records: list[Record]) -> None:
        """Hand `records` to the sink, acknowledging every `batch_size` on the way."""
        start = 0
        while start < len(records):
            part = records[start : start + self.options.batch_size - self._unacknowledged]
            await self._sink.add(part)
            self.stats.count(part)
            self._progress.update(len(part))
            self._unacknowledged += len(part)
            start += len(part)
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
    stats: ReplayStats | None = None,
) -> ReplayStats:
    """`publish_chunks` for messages one by one (the simulator's and the option flow's)."""
    return await publish_chunks(
        chunks_of(lines), bootstrap, options, client_id=client_id, stats=stats
    )


async def publish_chunks(
    chunks: Iterable[RoutedChunk],
    bootstrap: str,
    options: PublishOptions,
    *,
    client_id: str,
    report: Callable[[str], None] = report_to_stderr,
    progress: Progress | None = None,
    stats: ReplayStats | None = None,
) -> ReplayStats:
    """Connect to `bootstrap`, send the messages of `chunks` with a `Publisher` (counted in
    `stats`, when given), close within the deadline."""
    producer = make_producer(bootstrap, client_id=client_id)
    try:
        # aiokafka logs a broker that does not answer; the command line says it once.
        with quiet(logging.getLogger("aiokafka")):
            await producer.start()
        sink = KafkaSink(producer, options.deliver_timeout_s)
        publisher = Publisher(sink, options, report=report, progress=progress, stats=stats)
        return await publisher.send_chunks(chunks)
    finally:
        async with asyncio.timeout(options.deliver_timeout_s):
            await producer.stop()
