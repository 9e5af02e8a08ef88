"""Replay a JSONL recording (one wire message per line) to Kafka, paced by event time.

Each line is forwarded byte for byte (never re-encoded): ticks, vols and option quotes go to
the prices topic keyed by symbol, fills to the fills topic keyed by book. Lines the codec
refuses are reported on stderr with their line number and skipped, unless
`include_invalid` forwards them to exercise the hedger's dead-letter path (to the fills
topic when their type is `fill`, else to the prices topic). Blank lines are not messages
and are passed over silently.

Pacing: the message with event time `ts` is due at `wall_start + (ts - first_ts) / speed`,
always measured from the start, so sleeping late never accumulates drift; `speed=0` sends
as fast as possible. Lines with no usable `ts` go out as soon as they are reached.

    python -m producers.replay producers/data/demo_feed.jsonl --bootstrap HOST:PORT --speed 60
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson
from aiokafka.structs import RecordMetadata

from hedger.adapters.kafka import deliver, make_producer
from hedger.codec import DecodeError, decode_fill, decode_price

BOOTSTRAP_ENV = "HEDGER_KAFKA_BOOTSTRAP"
DEFAULT_PRICES_TOPIC = "md.prices"
DEFAULT_FILLS_TOPIC = "exec.fills"
DEFAULT_BATCH_SIZE = 500
DEFAULT_DELIVER_TIMEOUT_S = 30.0
_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ReplayTopics:
    prices: str = DEFAULT_PRICES_TOPIC
    fills: str = DEFAULT_FILLS_TOPIC


@dataclass(frozen=True, slots=True)
class RoutedLine:
    """One line of a recording and where it goes. `error` is None for a valid message."""

    line_number: int
    topic: str
    key: bytes | None
    value: bytes
    ts_ns: int | None
    error: str | None = None


@dataclass(slots=True)
class ReplayStats:
    """What a replay sent: records per topic, refused lines, and the event-time span sent."""

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


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _text_field(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _ts_field(obj: dict[str, Any]) -> int | None:
    value = obj.get("ts")
    valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if valid else None


def _check_quote(obj: dict[str, Any]) -> None:
    # The hedger decodes option quotes itself; the replayer only checks the envelope.
    if _text_field(obj, "symbol") is None:
        raise DecodeError("bad_value", "a quote needs a non-empty string 'symbol'")
    if _ts_field(obj) is None:
        raise DecodeError("bad_value", "a quote needs 'ts' as a positive integer of ns")


def _validate(raw: bytes, obj: dict[str, Any] | None) -> None:
    if obj is None:
        raise DecodeError("not_json", "the line is not a JSON object")
    kind = obj.get("type")
    if kind == "fill":
        decode_fill(raw)
    elif kind in ("tick", "vol"):
        decode_price(raw)
    elif kind == "quote":
        _check_quote(obj)
    else:
        raise DecodeError("unknown_type", f"type {kind!r} is not tick, vol, quote or fill")


def route_line(raw: bytes, line_number: int, topics: ReplayTopics) -> RoutedLine:
    """Validate one line and decide its topic and key; a refused line carries `error`."""
    value = raw.rstrip(b"\r\n")
    obj = _json_object(value)
    try:
        _validate(value, obj)
        error = None
    except DecodeError as exc:
        error = str(exc)
    obj = obj or {}
    is_fill = obj.get("type") == "fill"
    key_text = _text_field(obj, "book" if is_fill else "symbol")
    return RoutedLine(
        line_number=line_number,
        topic=topics.fills if is_fill else topics.prices,
        key=key_text.encode() if key_text is not None else None,
        value=value,
        ts_ns=_ts_field(obj),
        error=error,
    )


def route_lines(lines: Iterable[bytes], topics: ReplayTopics) -> Iterator[RoutedLine]:
    """Route every non-blank line, numbering lines from 1 as an editor does."""
    for line_number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield route_line(raw, line_number, topics)


def _open_recording(path: Path) -> BinaryIO:
    # Opened before connecting, so a wrong path fails fast; reading a local file line by
    # line is quick enough not to need a thread.
    return path.open("rb")


def _report_to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


@dataclass(slots=True)
class _Batch:
    producer: Any
    timeout_s: float
    size: int
    pending: list[Awaitable[RecordMetadata]] = field(default_factory=list)

    async def add(self, routed: RoutedLine) -> None:
        sent = await self.producer.send(routed.topic, value=routed.value, key=routed.key)
        self.pending.append(sent)
        if len(self.pending) >= self.size:
            await self.flush()

    async def flush(self) -> None:
        pending, self.pending = self.pending, []
        await deliver(pending, self.timeout_s)


async def replay(
    path: str | Path,
    bootstrap: str,
    *,
    speed: float = 1.0,
    prices_topic: str = DEFAULT_PRICES_TOPIC,
    fills_topic: str = DEFAULT_FILLS_TOPIC,
    include_invalid: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    deliver_timeout_s: float = DEFAULT_DELIVER_TIMEOUT_S,
    report: Callable[[str], None] = _report_to_stderr,
    clock: Callable[[], float] = time.monotonic,
) -> ReplayStats:
    """Send the recording at `path` to the broker at `bootstrap`; return what was sent.

    Records are produced with `send()` and acknowledged per batch (`batch_size` records, or
    whatever is pending before the pacer sleeps), each batch within `deliver_timeout_s`.
    Refused lines are passed to `report` as `"<path>:<line>: <reason>"`.
    """
    if speed < 0:
        raise ValueError(f"speed must be >= 0, got {speed!r}")
    source = Path(path)
    with _open_recording(source) as recording:
        routed_lines = route_lines(recording, ReplayTopics(prices_topic, fills_topic))
        producer = make_producer(bootstrap, client_id="hedger-replay")
        try:
            await producer.start()
            batch = _Batch(producer, deliver_timeout_s, max(1, batch_size))
            sender = _Sender(batch, Pacer(speed, clock()), clock, include_invalid)
            return await sender.send_all(routed_lines, lambda line: report(f"{source}:{line}"))
        finally:
            async with asyncio.timeout(deliver_timeout_s):
                await producer.stop()


@dataclass(slots=True)
class _Sender:
    batch: _Batch
    pacer: Pacer
    clock: Callable[[], float]
    include_invalid: bool
    stats: ReplayStats = field(default_factory=ReplayStats)

    async def send_all(
        self, routed_lines: Iterable[RoutedLine], report: Callable[[str], None]
    ) -> ReplayStats:
        for routed in routed_lines:
            if routed.error is not None:
                self.stats.invalid_lines += 1
                suffix = " (forwarded anyway)" if self.include_invalid else " (skipped)"
                report(f"{routed.line_number}: {routed.error}{suffix}")
                if not self.include_invalid:
                    continue
                self.stats.invalid_forwarded += 1
            await self._send(routed)
        await self.batch.flush()
        return self.stats

    async def _send(self, routed: RoutedLine) -> None:
        if self.pacer.delay_s(routed.ts_ns, self.clock()) > 0:
            await self.batch.flush()
            # Re-read the clock after the flush: the schedule is absolute, not cumulative.
            await asyncio.sleep(self.pacer.delay_s(routed.ts_ns, self.clock()))
        await self.batch.add(routed)
        self.stats.count(routed)


def _bootstrap(value: str | None) -> str:
    bootstrap = value or os.environ.get(BOOTSTRAP_ENV, "").strip()
    if not bootstrap:
        raise SystemExit(f"replay: no broker given; pass --bootstrap or set {BOOTSTRAP_ENV}")
    return bootstrap


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producers.replay",
        description="Replay a JSONL recording of wire messages to Kafka, paced by event time.",
    )
    parser.add_argument("file", type=Path, help="JSONL recording, one wire message per line")
    parser.add_argument("--bootstrap", help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV})")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="event seconds per wall second; 0 = as fast as possible (default: 1)",
    )
    parser.add_argument("--prices-topic", default=DEFAULT_PRICES_TOPIC)
    parser.add_argument("--fills-topic", default=DEFAULT_FILLS_TOPIC)
    parser.add_argument(
        "--include-invalid",
        action="store_true",
        help="forward lines the codec refuses too (exercises the hedger's dead-letter path)",
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.speed < 0:
        raise SystemExit("replay: --speed must be >= 0")
    bootstrap = _bootstrap(args.bootstrap)
    if not args.file.is_file():
        raise SystemExit(f"replay: no recording at {args.file}")
    stats = asyncio.run(
        replay(
            args.file,
            bootstrap,
            speed=args.speed,
            prices_topic=args.prices_topic,
            fills_topic=args.fills_topic,
            include_invalid=args.include_invalid,
            batch_size=args.batch_size,
        )
    )
    print(orjson.dumps(_summary(stats)).decode())
    return 0


def _summary(stats: ReplayStats) -> dict[str, Any]:
    return {
        "records_by_topic": stats.records_by_topic,
        "invalid_lines": stats.invalid_lines,
        "invalid_forwarded": stats.invalid_forwarded,
        "first_ts": stats.first_ts_ns,
        "last_ts": stats.last_ts_ns,
    }


if __name__ == "__main__":
    raise SystemExit(main())
