"""Replay pacing, merging and windows, on virtual time with a stand-in producer (no broker,
no wall clock: what is checked is when each message would leave)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest
from tqdm import tqdm

from producers.publish import Publisher, PublishOptions
from producers.recording import ReadOptions
from producers.replay import TimeWindow, recorded_chunks, recorded_lines
from producers.routing import Record, ReplayTopics, RoutedLine, route_line

T0 = 1_795_185_000_000_000_000
SECOND = 1_000_000_000
TOPICS = ReplayTopics(prices="p", fills="f")


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class StandInSink:
    """Records the virtual time of each message; every flush is acknowledged at once."""

    def __init__(self, time: VirtualTime) -> None:
        self.time = time
        self.sent: list[tuple[float, str, bytes | None, bytes]] = []
        self.flushes = 0
        self.acknowledged: list[int] = []  # how many messages were sent at each flush

    async def add(self, records: Sequence[Record]) -> None:
        self.sent.extend((self.time.now, topic, key, value) for topic, key, value, _ in records)

    async def flush(self) -> None:
        self.flushes += 1
        self.acknowledged.append(len(self.sent))


class CountingBar:
    def __init__(self) -> None:
        self.count = 0

    def update(self, n: float = 1) -> None:
        self.count += int(n)


def tick(second: float) -> bytes:
    ts = T0 + round(second * SECOND)
    return orjson.dumps({"type": "tick", "symbol": "XYZ", "ts": ts, "bid": 99.9, "ask": 100.1})


def fill(fill_id: str, second: float) -> bytes:
    message: dict[str, Any] = {
        "type": "fill",
        "fill_id": fill_id,
        "book": "mm-1",
        "instrument": "XYZ   261218C00100000",
        "side": "buy",
        "qty": 10,
        "price": 5.25,
        "ts": T0 + round(second * SECOND),
    }
    return orjson.dumps(message)


def minute_of_ticks() -> list[RoutedLine]:
    return [route_line(tick(second), second + 1, TOPICS) for second in range(61)]


async def publish(lines: list[RoutedLine], speed: float, **options: Any) -> tuple[Any, Any]:
    time = VirtualTime()
    producer = StandInSink(time)
    publisher = Publisher(
        producer,
        PublishOptions(speed=speed, **options),
        clock=time.clock,
        sleep=time.sleep,
        report=lambda message: None,
    )
    stats = await publisher.send_all(lines)
    return producer, stats


async def test_publisher_one_minute_at_speed_sixty_takes_one_virtual_second() -> None:
    producer, stats = await publish(minute_of_ticks(), speed=60)
    send_times = [sent_at for sent_at, *_ in producer.sent]
    assert send_times[-1] == pytest.approx(1.0)
    assert send_times == pytest.approx([second / 60 for second in range(61)])
    assert stats.records_sent == 61


async def test_publisher_speed_zero_sends_everything_without_sleeping() -> None:
    time = VirtualTime()
    producer = StandInSink(time)
    publisher = Publisher(producer, PublishOptions(speed=0), clock=time.clock, sleep=time.sleep)
    await publisher.send_all(minute_of_ticks())
    assert time.sleeps == []
    assert len(producer.sent) == 61


async def test_publisher_late_start_does_not_accumulate_drift() -> None:
    time = VirtualTime()
    producer = StandInSink(time)

    async def late_sleep(seconds: float) -> None:
        time.now += seconds + 0.3  # every wake-up is 0.3 s late

    publisher = Publisher(producer, PublishOptions(speed=1), clock=time.clock, sleep=late_sleep)
    await publisher.send_all([route_line(tick(s), s + 1, TOPICS) for s in range(4)])
    # Each message is due at its own second from the start; lateness does not add up.
    assert [round(t, 6) for t, *_ in producer.sent] == [0.0, 1.3, 2.3, 3.3]


async def test_publisher_invalid_lines_skipped_or_forwarded_and_counted() -> None:
    lines = [route_line(b"not json", 1, TOPICS, source="r.jsonl"), route_line(tick(0), 2, TOPICS)]
    reports: list[str] = []
    time = VirtualTime()
    producer = StandInSink(time)
    publisher = Publisher(
        producer, PublishOptions(speed=0), clock=time.clock, report=reports.append
    )
    stats = await publisher.send_all(lines)
    assert [topic for _, topic, _, _ in producer.sent] == ["p"]
    assert (stats.invalid_lines, stats.invalid_forwarded) == (1, 0)
    assert reports == ["r.jsonl:1: not_json: the line is not a JSON object (skipped)"]
    forwarded, stats = await publish(lines, speed=0, include_invalid=True)
    assert [value for *_, value in forwarded.sent] == [b"not json", tick(0)]
    assert stats.invalid_forwarded == 1


async def test_publisher_progress_bar_advanced_per_message() -> None:
    bar = CountingBar()
    time = VirtualTime()
    publisher = Publisher(StandInSink(time), PublishOptions(speed=0), progress=bar)
    await publisher.send_all(minute_of_ticks())
    assert bar.count == 61


async def test_publisher_with_a_disabled_progress_bar_sends_everything() -> None:
    # What the replay builds when stderr is no terminal, or with --no-progress.
    time = VirtualTime()
    producer = StandInSink(time)
    with tqdm(disable=True) as bar:
        publisher = Publisher(producer, PublishOptions(speed=0), progress=bar)
        await publisher.send_all(minute_of_ticks())
    assert len(producer.sent) == 61


async def test_publisher_chunks_acknowledged_every_batch_size_across_chunk_edges(
    tmp_path: Path,
) -> None:
    path = tmp_path / "prices.jsonl"
    path.write_bytes(b"\n".join(tick(n / 1000) for n in range(2100)) + b"\n")
    chunks = list(recorded_chunks([path], TOPICS))
    time = VirtualTime()
    sink = StandInSink(time)
    publisher = Publisher(sink, PublishOptions(speed=0, batch_size=500), clock=time.clock)
    stats = await publisher.send_chunks(chunks)
    assert len(chunks) > 2
    assert {len(chunk.records) for chunk in chunks} != {500}  # chunk edges off the batches
    assert sink.acknowledged == [500, 1000, 1500, 2000, 2100]
    assert [value for *_, value in sink.sent] == [tick(n / 1000) for n in range(2100)]
    assert stats.records_by_topic == {"p": 2100}


async def test_publisher_paced_refusal_reported_when_its_turn_comes() -> None:
    crossed = orjson.dumps(
        {"type": "tick", "symbol": "XYZ", "ts": T0 + 3 * SECOND // 2, "bid": 101, "ask": 100}
    )
    lines = [
        route_line(raw, number, TOPICS, source="r.jsonl")
        for number, raw in enumerate([tick(0), tick(1), crossed, tick(2)], start=1)
    ]
    time = VirtualTime()
    reported_at: list[tuple[float, str]] = []
    publisher = Publisher(
        StandInSink(time),
        PublishOptions(speed=1),
        clock=time.clock,
        sleep=time.sleep,
        report=lambda message: reported_at.append((time.now, message)),
    )
    await publisher.send_all(lines)
    # After the tick due at 1 s, before the one due at 2 s: not ahead of the schedule.
    assert [(at, message[:18]) for at, message in reported_at] == [(1.0, "r.jsonl:3: crossed")]


async def test_publisher_stats_span_skips_forwarded_lines_without_time() -> None:
    lines = [
        route_line(raw, number, TOPICS, source="r.jsonl")
        for number, raw in enumerate([b"{}", tick(0), tick(1), b"[]"], start=1)
    ]
    _, stats = await publish(lines, speed=0, include_invalid=True, batch_size=3)
    assert (stats.first_ts_ns, stats.last_ts_ns) == (T0, T0 + SECOND)
    assert stats.records_by_topic == {"p": 4}
    assert (stats.invalid_lines, stats.invalid_forwarded) == (2, 2)


def test_publish_options_negative_speed_refused() -> None:
    with pytest.raises(ValueError, match="speed"):
        PublishOptions(speed=-1)


def test_recorded_lines_prices_and_fills_files_merged_in_event_time(tmp_path: Path) -> None:
    prices, fills = tmp_path / "prices.jsonl", tmp_path / "fills.jsonl"
    prices.write_bytes(b"\n".join([tick(0), tick(1), tick(2)]) + b"\n")
    fills.write_bytes(fill("C-1", 0.5) + b"\n" + fill("C-2", 2) + b"\n")
    merged = list(recorded_lines([prices, fills], TOPICS))
    assert [(line.topic, line.value) for line in merged] == [
        ("p", tick(0)),
        ("f", fill("C-1", 0.5)),
        ("p", tick(1)),
        ("p", tick(2)),
        ("f", fill("C-2", 2)),  # equal times: the first file's message first
    ]
    assert [line.source for line in merged][:2] == [str(prices), str(fills)]


def test_recorded_lines_window_keeps_start_inclusive_end_exclusive(tmp_path: Path) -> None:
    path = tmp_path / "prices.jsonl"
    path.write_bytes(b"\n".join(tick(second) for second in range(6)) + b"\n")
    window = TimeWindow(start_ns=T0 + 2 * SECOND, end_ns=T0 + 4 * SECOND)
    kept = list(recorded_lines([path], TOPICS, window=window))
    assert [line.value for line in kept] == [tick(2), tick(3)]


def test_recorded_lines_csv_conversion_error_reported_with_row(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text("symbol,ts,last\nXYZ,soon,100\n")
    (line,) = recorded_lines([path], TOPICS, ReadOptions())
    assert line.error is not None
    assert line.error.startswith("'soon' is not an ISO-8601")
    assert (line.source, line.line_number) == (str(path), 2)
