"""aiokafka clients with the settings money needs, in one place.

aiokafka's defaults are unsafe here (producer acks=1, consumer auto-commit on); every client
in the product and its producers is made by these functions so the safe settings cannot be
forgotten. Idempotent production is on only for the transactional producer of exactly-once
delivery (`hedger.adapters.delivery`): the embedded broker (Tansu) rejects InitProducerId,
and there idempotence of hedge orders comes from deterministic order ids. Consumers read
committed records only: an aborted transaction's orders were never sent.

Every client also carries the process's Kafka security (TLS, SASL: `security_options`),
read once from the HEDGER_KAFKA_* security variables, so no caller passes it along; its
`start()` says when the broker refuses those credentials or that certificate.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, cast

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import RecordMetadata, TopicPartition

from hedger.adapters.kafka_security import refusal

log = logging.getLogger(__name__)

PRODUCER_SETTINGS = {"acks": "all", "enable_idempotence": False, "linger_ms": 1}
# A fetch holds at most 1 MiB a partition and 8 MiB in all (aiokafka: 50 MiB), so a flood
# of large records cannot balloon the service's memory; a single record larger than that
# still comes whole (the broker's own limit bounds it) and is dead-lettered as an excerpt.
CONSUMER_SETTINGS = {
    "enable_auto_commit": False,
    "auto_offset_reset": "earliest",
    "isolation_level": "read_committed",
    "max_partition_fetch_bytes": 1024 * 1024,
    "fetch_max_bytes": 8 * 1024 * 1024,
}


@functools.cache
def security_options() -> dict[str, Any]:
    """The security keyword arguments of every Kafka client of this process, from the
    environment on first use. Raises `ConfigError` (one line naming the variable) if the
    settings are wrong; `hedger run` has refused to start on that before any client."""
    from hedger.config import kafka_security_from_env  # config imports the core: not at load

    settings = kafka_security_from_env(os.environ)
    for variable in settings.kafka_security().unused():
        log.warning(
            "%s is set but HEDGER_KAFKA_SECURITY_PROTOCOL=%s does not use it",
            variable,
            settings.kafka_security_protocol,
        )
    return settings.kafka_client_options()


async def start_explained(start: Callable[[], Awaitable[None]], bootstrap: str) -> None:
    """`start()` of a client of `bootstrap`; a broker that answers but refuses the process's
    credentials or certificate raises `KafkaRefusedError` saying so, where aiokafka says
    only "Unable to bootstrap" (as for a broker that is down)."""
    try:
        await start()
    except KafkaConnectionError:
        refused = await refusal(bootstrap, security_options())
        if refused is not None:
            raise refused from None
        raise


class _Producer(AIOKafkaProducer):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, bootstrap: str, **options: Any) -> None:
        super().__init__(bootstrap_servers=bootstrap, **options)
        self._hedger_bootstrap = bootstrap

    async def start(self) -> None:
        await start_explained(super().start, self._hedger_bootstrap)


class _Consumer(AIOKafkaConsumer):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, *topics: str, bootstrap: str, **options: Any) -> None:
        super().__init__(*topics, bootstrap_servers=bootstrap, **options)
        self._hedger_bootstrap = bootstrap

    async def start(self) -> None:
        await start_explained(super().start, self._hedger_bootstrap)


def make_producer(bootstrap: str, client_id: str, **transactional: Any) -> AIOKafkaProducer:
    """A producer with the safe settings; `transactional` (transactional_id, its timeout)
    makes it transactional, which needs idempotence (and a broker that has both)."""
    settings = {**PRODUCER_SETTINGS, "enable_idempotence": bool(transactional)}
    return _Producer(
        bootstrap,
        client_id=client_id,
        **settings,
        **transactional,
        **security_options(),
    )


def make_consumer(
    bootstrap: str,
    client_id: str,
    group_id: str | None,
    *topics: str,
    session_timeout_ms: int = 10_000,
    fetch_max_wait_ms: int = 500,
) -> AIOKafkaConsumer:
    """A consumer that never commits on its own; pass topics to join `group_id`'s rebalancing.

    A crashed member holds its partitions until its session times out, so the timeout bounds
    how long a restarted instance waits for its books. `fetch_max_wait_ms` is how long the
    broker may hold a fetch that finds nothing (the embedded broker also holds it when
    records arrive meanwhile, so it bounds how stale "nothing more" can be).
    """
    return _Consumer(
        *topics,
        bootstrap=bootstrap,
        client_id=client_id,
        group_id=group_id,
        session_timeout_ms=session_timeout_ms,
        fetch_max_wait_ms=fetch_max_wait_ms,
        heartbeat_interval_ms=max(session_timeout_ms // 3, 100),
        **CONSUMER_SETTINGS,
        **security_options(),
    )


class DeliveryTimeoutError(TimeoutError):
    """The broker did not acknowledge a batch in time; the message says how much and why
    it may be (it is the line an operator reads when the service stops on it)."""


async def queue_send(
    producer: AIOKafkaProducer, timeout_s: float, topic: str, value: bytes, **options: Any
) -> asyncio.Future[RecordMetadata]:
    """`producer.send()` within `timeout_s`, or `DeliveryTimeoutError`.

    `send()` itself waits before it queues: for the topic's metadata on the first send to
    it (one request to whichever node aiokafka picks, 40 s if that node hangs), and for
    room in the send buffer. Neither may outlast the send deadline."""
    try:
        async with asyncio.timeout(timeout_s):
            future: asyncio.Future[RecordMetadata] = await producer.send(topic, value, **options)
    except TimeoutError:
        raise DeliveryTimeoutError(
            f"the broker gave no metadata or buffer room for {topic!r} within {timeout_s:g} s"
            " (HEDGER_SEND_TIMEOUT_S); is a broker node hanging?"
        ) from None
    return future


async def know_topics(producer: AIOKafkaProducer, topics: Iterable[str]) -> None:
    """Load `topics`' metadata into the producer now, at start, while the cluster is known
    to answer, so that no later send waits on a metadata request."""
    for topic in topics:
        await producer.partitions_for(topic)


async def deliver(
    sends: Iterable[Awaitable[RecordMetadata]], timeout_s: float
) -> list[RecordMetadata]:
    """Wait for every send of a batch to be acknowledged and return the acknowledgements, or
    raise `DeliveryTimeoutError` (or the error of a send the broker refused).

    A timed-out send may still have been written: callers treat it as "maybe sent" and
    reconcile from the topic, never resend under a new id.
    """
    results = await acknowledgements(sends, timeout_s)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return cast(list[RecordMetadata], results)  # no exceptions, as just checked


async def acknowledgements(
    sends: Iterable[Awaitable[RecordMetadata]], timeout_s: float
) -> list[RecordMetadata | BaseException]:
    """Each send's acknowledgement or error, in order, once every send has one; raises
    `DeliveryTimeoutError` if `timeout_s` passes first."""
    pending = [asyncio.ensure_future(send) for send in sends]
    if not pending:
        return []
    _, waiting = await asyncio.wait(pending, timeout=timeout_s)
    if waiting:
        raise DeliveryTimeoutError(
            f"the broker did not acknowledge {len(waiting)} of {len(pending)} records within"
            f" {timeout_s:g} s (HEDGER_SEND_TIMEOUT_S); is a partition leader or the in-sync"
            " replicas (min.insync.replicas) missing?"
        )
    return [send.exception() or send.result() for send in pending]


def when_answered(sends: Sequence[asyncio.Future[Any]], callback: Callable[[], None]) -> None:
    """Call `callback` once every one of `sends` has its answer (the broker's
    acknowledgement, or an error); at once if there are none."""
    left = len(sends)
    if not left:
        callback()
        return

    def answered(_: asyncio.Future[Any]) -> None:
        nonlocal left
        left -= 1
        if not left:
            callback()

    for send in sends:
        send.add_done_callback(answered)


def last_fetch_s(consumer: AIOKafkaConsumer) -> float | None:
    """Unix time of the broker's last fetch response to `consumer`, for any partition it
    holds; None before the first. An idle consumer still gets one every fetch_max_wait_ms."""
    stamps = [consumer.last_poll_timestamp(tp) for tp in consumer.assignment()]
    answered = [stamp for stamp in stamps if stamp is not None]
    return max(answered) / 1000 if answered else None


async def all_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of `topic`, from a metadata request made now.

    Not `partitions_for_topic()` after `topics()`: that reads the consumer's own metadata,
    which covers only the topics it tracks. Before `assign()` it tracks none, and Apache
    Kafka answers a request for no topics with none (the embedded broker with all), so the
    lookup would miss a topic that exists. `fetch_all_metadata()` returns what it fetched.
    """
    cluster = await consumer._client.fetch_all_metadata()
    partitions = cluster.partitions_for_topic(topic) or set()
    if not partitions:
        raise LookupError(f"topic {topic!r} does not exist on the broker")
    return [TopicPartition(topic, p) for p in sorted(partitions)]


@contextlib.contextmanager
def quiet(logger: logging.Logger) -> Iterator[None]:
    """Silence `logger` for a block whose failures the caller reports itself (aiokafka logs
    answers it takes for errors, tracebacks included)."""
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)
