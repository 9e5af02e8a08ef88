"""Running the hedger (in this process or as a child process) against the test broker."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import weakref
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, RecordMetadata, TopicPartition
from prometheus_client.parser import text_string_to_metric_families

from hedger.adapters.embedded_broker import free_port
from hedger.adapters.kafka import all_partitions, make_consumer, make_producer
from hedger.adapters.topics import ensure_topics, highwaters
from hedger.config import Settings
from hedger.recovery import read_to
from hedger.runtime import HedgerService
from producers.execution import CostModel
from producers.paper_exchange import PaperExchange, PaperExchangeConfig

DEADLINE_S = 60.0
STOP_DEADLINE_S = 10.0


@contextlib.asynccontextmanager
async def started(client: Any) -> AsyncIterator[Any]:
    """Start an aiokafka producer or consumer; stop it under its own deadline."""
    try:
        await client.start()
        yield client
    finally:
        async with asyncio.timeout(STOP_DEADLINE_S):
            await client.stop()


async def hedger_settings(
    bootstrap: str, prefix: str, partitions: int = 1, **overrides: Any
) -> Settings:
    """Settings on topics and groups of this test only, with their topics created (each
    with `partitions` partitions)."""
    settings = prefixed_settings(bootstrap, prefix, **overrides)
    await ensure_topics(bootstrap, settings.topics, partitions)
    return settings


def prefixed_settings(bootstrap: str, prefix: str, **overrides: Any) -> Settings:
    """Settings on topics and groups of this test only (the topics not created).

    No wall-clock age limit on ticks unless a test sets one: many tests load a feed before
    the hedger starts, so its ticks are seconds old by design when handled."""
    settings = Settings(
        kafka_bootstrap=bootstrap,
        http_host="127.0.0.1",
        metrics_port=free_port(),
        prices_topic=prefix + "md.prices",
        fills_topic=prefix + "exec.fills",
        orders_topic=prefix + "hedger.orders",
        dlq_topic=prefix + "hedger.dlq",
        control_topic=prefix + "hedger.control",
        snapshot_topic=prefix + "hedger.snapshots",
        group_id=prefix + "hedger",
        instance_id="test",
        session_timeout_ms=6000,
        merge_wait_ms=0,
        max_tick_age_ms=0,
    )
    return dataclasses.replace(settings, **overrides)


def environment(settings: Settings) -> dict[str, str]:
    """The HEDGER_* variables that configure a child `hedger run` like `settings`."""
    env = dict(os.environ)
    for setting in dataclasses.fields(Settings):
        value = getattr(settings, setting.name)
        if value is None:
            continue
        if isinstance(value, frozenset):
            value = ",".join(sorted(value))
        elif isinstance(value, dt.time):
            value = value.strftime("%H:%M")
        env[setting.metadata["env"]] = str(value)
    return env


async def wait_until(condition: Callable[[], Any], timeout_s: float = DEADLINE_S) -> None:
    async with asyncio.timeout(timeout_s):
        # Polling: the conditions are broker and HTTP state, with no event to wait on.
        while not await _value(condition()):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


async def _value(result: Any) -> Any:
    return await result if asyncio.iscoroutine(result) else result


@contextlib.asynccontextmanager
async def running_hedger(
    settings: Settings, stop: asyncio.Event | None = None
) -> AsyncIterator[HedgerService]:
    """A ready service in this process; pass `stop` to request its stop before the end."""
    service = HedgerService(settings)
    stop = stop if stop is not None else asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    await wait_until(lambda: service.ready or task.done())
    if task.done():
        await task
    try:
        yield service
    finally:
        stop.set()
        async with asyncio.timeout(DEADLINE_S):
            await task


@contextlib.asynccontextmanager
async def running_exchange(
    settings: Settings, costs: CostModel | None = None, **config: Any
) -> AsyncIterator[PaperExchange]:
    """The paper exchange on `settings`' topics; `config`: other `PaperExchangeConfig` fields."""
    exchange = PaperExchange(
        PaperExchangeConfig(
            settings.require_bootstrap(),
            settings.orders_topic,
            settings.prices_topic,
            settings.fills_topic,
            group_id=settings.group_id + ".exchange",
            costs=costs or CostModel(),
            poll_timeout_ms=20,
            **config,
        )
    )
    stop = asyncio.Event()
    task = asyncio.create_task(exchange.run(stop))
    try:
        yield exchange
    finally:
        stop.set()
        async with asyncio.timeout(DEADLINE_S):
            await task


@contextlib.asynccontextmanager
async def child_hedger(settings: Settings) -> AsyncIterator[HedgerProcess]:
    """`hedger run` as a child process, ready when this yields; killed at the end if alive."""
    process = HedgerProcess(settings)
    try:
        await process.wait_ready(settings)
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


class HedgerProcess(subprocess.Popen[bytes]):
    """`hedger run` as a child process configured like `settings`, its log in a file.

    A file, not a pipe: a pipe read only at the end fills up (64 KiB) and blocks the child
    in the middle of a log line, its HTTP answers with it. A plain Popen: the tests signal
    and reap it synchronously, like a supervisor would."""

    def __init__(self, settings: Settings) -> None:
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with this object)
        weakref.finalize(self, self._log.close)
        super().__init__(
            [sys.executable, "-m", "hedger.cli", "run"],
            env=environment(settings),
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def said(self) -> str:
        """All it has logged so far (read without moving the offset the child writes at)."""
        fd = self._log.fileno()
        return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")

    async def wait_ready(self, settings: Settings, *, may_crash: bool = False) -> None:
        """Until its /readyz answers 200; fails, with what it logged, if it stops or is not
        ready within `DEADLINE_S` (it is killed then). With `may_crash`, it may also have
        killed itself at its crash point first (`HEDGER_CRASH_AT`): the records waiting for
        it can hold an order at once."""
        try:
            await wait_until(lambda: is_ready(settings) if self.poll() is None else True)
        except TimeoutError:
            self.kill()
            self.wait(timeout=10)
            raise AssertionError(f"not ready in time; the hedger said:\n{self.said()}") from None
        crashed = may_crash and self.poll() == -signal.SIGKILL
        assert self.poll() is None or crashed, f"stopped before it was ready:\n{self.said()}"


async def http_get(settings: Settings, path: str) -> tuple[int, bytes]:
    url = f"http://127.0.0.1:{settings.metrics_port}{path}"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read()


async def is_ready(settings: Settings) -> bool:
    try:
        status, _ = await http_get(settings, "/readyz")
    except aiohttp.ClientError:
        return False
    return status == 200


async def books(settings: Settings) -> dict[str, Any]:
    status, body = await http_get(settings, "/books")
    assert status == 200
    return dict(orjson.loads(body))


async def has_book(settings: Settings, book: str) -> bool:
    """`book` holds something, as the hedger's /books shows."""
    return any(e["book"] == book for e in (await books(settings))["exposures"])


async def metric(settings: Settings, name: str, **labels: str) -> float | None:
    """The sum of a live scrape's samples of `name` carrying `labels`; None when absent."""
    _, body = await http_get(settings, "/metrics")
    values = [
        float(sample.value)
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    ]
    return sum(values) if values else None


class Producer:
    """Sends wire messages (dicts or raw bytes) and waits for each to be acknowledged."""

    def __init__(self, bootstrap: str) -> None:
        self._producer = make_producer(bootstrap, "test-feed")

    async def __aenter__(self) -> Producer:
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        async with asyncio.timeout(10):
            await self._producer.stop()

    async def send(
        self,
        topic: str,
        message: dict[str, Any] | bytes,
        key: str,
        timestamp_ms: int | None = None,
    ) -> RecordMetadata:
        """`timestamp_ms` sets the record's CreateTime (default: the producer's clock)."""
        value = message if isinstance(message, bytes) else orjson.dumps(message)
        return await self._producer.send_and_wait(
            topic, value, key=key.encode(), timestamp_ms=timestamp_ms
        )


async def read_topic(
    bootstrap: str, topic: str, count: int, timeout_s: float = DEADLINE_S
) -> list[ConsumerRecord[bytes, bytes]]:
    """At least `count` records of `topic` (all partitions, from the start), waiting for
    them; committed ones only, as any reader of the hedger's output should read."""
    consumer = make_consumer(bootstrap, "test-reader", None)
    records: list[ConsumerRecord[bytes, bytes]] = []
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            partitions = await all_partitions(consumer, topic)
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=100)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def read_messages(bootstrap: str, topic: str, count: int) -> list[dict[str, Any]]:
    return [orjson.loads(r.value or b"") for r in await read_topic(bootstrap, topic, count)]


async def read_all(bootstrap: str, topic: str) -> list[dict[str, Any]]:
    """Every committed message now on `topic`, decoded."""
    return [orjson.loads(record.value or b"") for record in await records_now(bootstrap, topic)]


async def records_now(
    bootstrap: str, topic: str, *, committed: bool = True
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record now on `topic`: committed ones only (as any reader of the hedger's
    output should read), or with `committed=False` also those of open and aborted
    transactions. Read to each partition's end, not counted up to it (transaction markers
    take offsets too)."""
    ends = await highwaters(bootstrap, topic)
    records: list[ConsumerRecord[bytes, bytes]] = []
    if not any(ends.values()):
        # Also sidesteps an aiokafka bug: stopping a group-less consumer before its first
        # await raises CancelledError from its coordinator's close().
        return records

    async def keep(record: ConsumerRecord[bytes, bytes]) -> None:
        records.append(record)

    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    await consumer.start()
    try:
        targets = {TopicPartition(topic, partition): end for partition, end in ends.items()}
        consumer.assign(list(targets))
        async with asyncio.timeout(DEADLINE_S):
            await read_to(consumer, targets, keep)
    finally:
        await consumer.stop()
    return records


async def wait_committed(settings: Settings, prices_sent: int) -> None:
    """Until the hedger has committed every price record sent (and so handled it)."""
    group = f"{settings.group_id}.prices.{settings.instance_id}"
    bootstrap = settings.require_bootstrap()
    topic = settings.prices_topic
    await wait_until(lambda: _committed_at_least(bootstrap, group, topic, prices_sent))


async def _committed_at_least(bootstrap: str, group: str, topic: str, offset: int) -> bool:
    return await committed(bootstrap, group, topic) >= offset


async def committed_everywhere(bootstrap: str, group_id: str, topic: str) -> bool:
    """`group_id` has committed the end of every partition of `topic`."""
    ends = await highwaters(bootstrap, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        for partition, end in ends.items():
            if ((await consumer.committed(TopicPartition(topic, partition))) or 0) < end:
                return False
        return True
    finally:
        await consumer.stop()


async def handled_everything(settings: Settings) -> bool:
    """The hedger has committed every record now on its price and fill topics."""
    bootstrap = settings.require_bootstrap()
    prices_group = f"{settings.group_id}.prices.{settings.instance_id}"
    return await committed_everywhere(
        bootstrap, prices_group, settings.prices_topic
    ) and await committed_everywhere(bootstrap, settings.group_id, settings.fills_topic)


async def committed(bootstrap: str, group_id: str, topic: str) -> int:
    """The offset `group_id` has committed on partition 0 of `topic` (0 when none)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group_id, enable_auto_commit=False
    )
    await consumer.start()
    try:
        return (await consumer.committed(TopicPartition(topic, 0))) or 0
    finally:
        await consumer.stop()
