"""The replayer and the paper exchange against a real broker (conftest picks the tier)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from hedger.adapters.kafka import all_partitions, make_producer
from hedger.adapters.topics import highwaters
from producers.execution import CostModel
from producers.paper_exchange import PaperExchange, PaperExchangeConfig
from producers.replay import replay
from tests.integration.harness import read_topic as harness_read_topic
from tests.integration.harness import started

pytestmark = pytest.mark.broker

DEADLINE_S = 60.0
T0 = 1_795_185_000_000_000_000
MS_NS = 1_000_000

KafkaTopics = Callable[..., Awaitable[list[str]]]  # the conftest fixture


async def read_topic(bootstrap: str, topic: str, count: int) -> list[tuple[bytes | None, bytes]]:
    """The first `count` records of `topic` as (key, value), in offset order per partition."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    records: list[Any] = []
    async with started(consumer):
        partitions = await all_partitions(consumer, topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        while len(records) < count:
            for batch in (await consumer.getmany(timeout_ms=100)).values():
                records.extend(batch)
    records.sort(key=lambda record: (record.partition, record.offset))
    return [(record.key, record.value) for record in records]


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll `condition`: the state is plain attributes, with no event to wait on."""
    while True:
        if condition():
            return
        await asyncio.sleep(0.02)


async def wait_running(task: asyncio.Task[None], condition: Callable[[], bool]) -> None:
    """Wait for `condition`, re-raising at once if the task under test died meanwhile."""
    await wait_until(lambda: condition() or task.done())
    if task.done():
        await task
        raise AssertionError("the paper exchange stopped before it was told to")


def line(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def tick(symbol: str, ts: int, bid: float, ask: float) -> bytes:
    return line({"type": "tick", "symbol": symbol, "ts": ts, "bid": bid, "ask": ask})


def fill(fill_id: str, book: str, ts: int) -> bytes:
    return line(
        {
            "type": "fill",
            "fill_id": fill_id,
            "book": book,
            "instrument": "XYZ   261218C00100000",
            "side": "buy",
            "qty": 10,
            "price": 5.25,
            "ts": ts,
        }
    )


def order(order_id: str, book: str, symbol: str, side: str, ref_price: float) -> bytes:
    return line(
        {
            "type": "order",
            "order_id": order_id,
            "book": book,
            "symbol": symbol,
            "side": side,
            "qty": 500,
            "ts": T0 + 5000 * MS_NS,
            "ref_price": ref_price,
            "reason": "band",
            "delta_before": 6500.0,
            "target_delta": 0.0,
        }
    )


async def test_replay_small_recording_routes_records_by_type_and_key_in_order(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, tmp_path: Path
) -> None:
    prices_topic, fills_topic = await kafka_topics("prices", "fills")
    prices = [
        tick("XYZ", T0, 99.95, 100.05),
        line({"type": "vol", "symbol": "ABC", "ts": T0 + MS_NS, "vol": 0.35}),
        line({"type": "quote", "symbol": "XYZ   261218C00100000", "ts": T0 + 2 * MS_NS}),
        tick("ABC", T0 + 4 * MS_NS, 49.99, 50.01),
    ]
    fills = [fill("C-1", "mm-1", T0 + MS_NS), fill("C-2", "mm-2", T0 + 5 * MS_NS)]
    crossed = tick("XYZ", T0 + 3 * MS_NS, 101.0, 100.0)
    recording = [prices[0], fills[0], prices[1], prices[2], crossed, prices[3], fills[1]]
    path = tmp_path / "recording.jsonl"
    path.write_bytes(b"\n".join(recording) + b"\n")
    reports: list[str] = []

    async with asyncio.timeout(DEADLINE_S):
        stats = await replay(
            path,
            kafka_bootstrap,
            # Paced (5 ms of event time in 5 µs): exercises the sleep path, untimed.
            speed=1000,
            prices_topic=prices_topic,
            fills_topic=fills_topic,
            report=reports.append,
        )
        got_prices = await read_topic(kafka_bootstrap, prices_topic, 4)
        got_fills = await read_topic(kafka_bootstrap, fills_topic, 2)
        written = [await highwaters(kafka_bootstrap, t) for t in (prices_topic, fills_topic)]

    assert got_prices == [
        (b"XYZ", prices[0]),
        (b"ABC", prices[1]),
        (b"XYZ   261218C00100000", prices[2]),
        (b"ABC", prices[3]),
    ]
    assert got_fills == [(b"mm-1", fills[0]), (b"mm-2", fills[1])]
    assert written == [{0: 4}, {0: 2}]
    assert stats.records_by_topic == {prices_topic: 4, fills_topic: 2}
    assert (stats.invalid_lines, stats.invalid_forwarded) == (1, 0)
    assert (stats.first_ts_ns, stats.last_ts_ns) == (T0, T0 + 5 * MS_NS)
    assert len(reports) == 1
    assert f"{path}:5: crossed_quote" in reports[0]


async def test_replay_include_invalid_forwards_bad_line_to_prices_topic_and_reports_it(
    kafka_bootstrap: str,
    kafka_topics: KafkaTopics,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prices_topic, fills_topic = await kafka_topics("prices", "fills")
    path = tmp_path / "recording.jsonl"
    path.write_bytes(b"not json\n" + tick("XYZ", T0, 99.95, 100.05) + b"\n")

    async with asyncio.timeout(DEADLINE_S):
        stats = await replay(
            path,
            kafka_bootstrap,
            speed=0,
            prices_topic=prices_topic,
            fills_topic=fills_topic,
            include_invalid=True,
        )
        got = await read_topic(kafka_bootstrap, prices_topic, 2)

    assert got == [(None, b"not json"), (b"XYZ", tick("XYZ", T0, 99.95, 100.05))]
    assert (stats.invalid_lines, stats.invalid_forwarded) == (1, 1)
    assert f"{path}:1: not_json" in capsys.readouterr().err


async def test_paper_exchange_order_filled_at_mark_plus_half_spread_garbage_skipped(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, topic_prefix: str
) -> None:
    orders_topic, prices_topic, fills_topic = await kafka_topics("orders", "prices", "fills")
    config = PaperExchangeConfig(
        bootstrap=kafka_bootstrap,
        orders_topic=orders_topic,
        prices_topic=prices_topic,
        fills_topic=fills_topic,
        group_id=topic_prefix + "paper-exchange",
        costs=CostModel(half_spread=0.05, commission_per_order=1.5, latency_ms=2),
        poll_timeout_ms=20,
    )
    exchange = PaperExchange(config)
    stop = asyncio.Event()
    producer = make_producer(kafka_bootstrap, client_id="test-producers")

    async with asyncio.timeout(DEADLINE_S), started(producer):
        await producer.send_and_wait(prices_topic, tick("XYZ", T0, 99.99, 100.01), key=b"XYZ")
        running = asyncio.create_task(exchange.run(stop))
        await wait_running(running, lambda: "XYZ" in exchange.venue.marks)
        for value in (
            b"garbage",
            order("O-1", "mm-1", "XYZ", "buy", 90.0),
            order("O-2", "mm-2", "ABC", "sell", 50.0),
        ):
            await producer.send_and_wait(orders_topic, value, key=b"mm-1")
        got = await read_topic(kafka_bootstrap, fills_topic, 2)
        await wait_running(running, lambda: exchange.venue.orders_skipped == 1)
        committed = await committed_offset(kafka_bootstrap, config.group_id, orders_topic, 3)
        stop.set()
        await running

    buy, sell = (orjson.loads(value) for _key, value in got)
    assert [key for key, _value in got] == [b"mm-1", b"mm-2"]
    assert buy == {
        "type": "fill",
        "fill_id": "PX-O-1",
        "book": "mm-1",
        "instrument": "XYZ",
        "side": "buy",
        "qty": 500,
        "price": pytest.approx(100.05),
        "ts": T0 + 5002 * MS_NS,
        "order_id": "O-1",
        "fee": 1.5,
    }
    # No tick for ABC yet: the order's ref_price is the mark.
    assert (sell["price"], sell["side"], sell["fill_id"]) == (
        pytest.approx(49.95),
        "sell",
        "PX-O-2",
    )
    assert (exchange.venue.orders_filled, exchange.venue.orders_skipped) == (2, 1)
    assert exchange.venue.fees_charged == pytest.approx(3.0)
    assert committed == 3


async def committed_offset(bootstrap: str, group_id: str, topic: str, expected: int) -> int:
    """Poll the group's committed offset of partition 0 until it reaches `expected`."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    async with started(consumer):
        partition = TopicPartition(topic, 0)
        while True:
            offset: int = await consumer.committed(partition) or 0
            if offset >= expected:
                return offset
            await asyncio.sleep(0.05)


async def test_replay_batches_keep_keyed_partitioning_of_send(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, tmp_path: Path
) -> None:
    prices_topic, fills_topic, reference_topic = await kafka_topics(
        "prices", "fills", "reference", partitions=3
    )
    symbols = ["XYZ", "ABC", "QQQ", "SPY", "IBM", "AAPL", "MSFT", "GE"]
    lines = [tick(s, T0 + n * MS_NS, 9.99, 10.01) for n in range(3) for s in symbols]
    path = tmp_path / "recording.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    producer = make_producer(kafka_bootstrap, client_id="test-reference")

    async with asyncio.timeout(DEADLINE_S):
        await replay(
            path, kafka_bootstrap, speed=0, prices_topic=prices_topic, fills_topic=fills_topic
        )
        async with started(producer):
            # aiokafka's own choice for each key, through send().
            chosen = {
                s: (await producer.send_and_wait(reference_topic, b"x", key=s.encode())).partition
                for s in symbols
            }
        records = await harness_read_topic(kafka_bootstrap, prices_topic, len(lines))

    by_key: dict[str, set[int]] = {}
    for record in records:
        by_key.setdefault((record.key or b"").decode(), set()).add(record.partition)
    assert by_key == {symbol: {chosen[symbol]} for symbol in symbols}
    assert len(set(chosen.values())) > 1  # the keys really spread over partitions
    per_partition = sorted((r.partition, r.offset, r.value) for r in records)
    for symbol in symbols:  # each key's messages in file order
        mine = [v for _, _, v in per_partition if orjson.loads(v)["symbol"] == symbol]
        assert mine == [line for line in lines if orjson.loads(line)["symbol"] == symbol]
