"""A broker that will not acknowledge the hedger's orders within HEDGER_SEND_TIMEOUT_S.

At least once, `hedger run` stops: it exits 1 with one line naming the delivery timeout
(not the shutdown deadline), and no traceback; a restart reconciles the batch that may
have been written. Exactly once, the same process gives the batch's transaction up (the
follower is resumed once it is counted), a new producer aborts it, the state is rebuilt
and the order is sent: one order on the topic, read committed. Left frozen, the new
producer cannot start (the old transaction's abort waits for the frozen replica) and the
service stops on the deadline in one line.

On the three-node cluster: the order topic's partition is replicated to all three nodes,
every other topic lives on its leader alone; one follower of the order partition frozen
(SIGSTOP) holds every acks=all write to it until the leader drops it from the in-sync set
(`replica.lag.time.max.ms`, 30 s), far past HEDGER_SEND_TIMEOUT_S, while ticks and fills
still flow.

A frozen node holds every write to the offsets topic too (it is one of its replicas), and
a coordinator answers a connection's requests in order, so a commit in flight would hold
the group's heartbeats behind it: the group would fall apart and the tick wait for a
rebalance that outlasts the in-sync timeout (seen in CI). So the node frozen coordinates
neither of the hedger's groups, and is frozen only once the hedger's commits have landed;
from then on the tick is the only write the hedger makes."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import CoordinatorNotAvailableError
from aiokafka.structs import TopicPartition

from hedger.adapters.apache_kafka import ApacheKafka, KafkaNode
from hedger.adapters.topics import ensure_topics
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    HedgerProcess,
    Producer,
    child_hedger,
    has_book,
    metric,
    prefixed_settings,
    read_all,
    records_now,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def test_an_acknowledgement_timeout_exits_1_naming_it_in_one_line(
    kafka_cluster: ApacheKafka, topic_prefix: str
) -> None:
    settings = _settings(kafka_cluster, topic_prefix, "at_least_once")
    cause, stderr = await _stop_line(kafka_cluster, settings)
    assert "DeliveryTimeoutError: the broker did not acknowledge 1 of 1 records" in cause
    assert "HEDGER_SEND_TIMEOUT_S" in cause
    assert "of the stop request" not in stderr  # not blamed on the shutdown deadline


async def test_exactly_once_gives_the_transaction_up_and_sends_the_order_once(
    kafka_cluster: ApacheKafka, topic_prefix: str
) -> None:
    settings = _settings(kafka_cluster, topic_prefix, "exactly_once")
    async with _unacknowledged_order(kafka_cluster, settings) as (process, follower):
        with contextlib.suppress(TimeoutError):  # the asserts below say what happened
            await wait_until(lambda: _gave_up(settings, process), timeout_s=60)
            follower.signal(signal.SIGCONT)  # the broker answers again
            await wait_until(lambda: _order_sent(settings, process), timeout_s=60)
        alive = process.poll() is None
        restarts = alive and await metric(
            settings, "hedger_delivery_restarts_total", cause="send_timeout"
        )
        process.kill()
        stderr = process.said()
        print(stderr)  # shown by pytest when the test fails

    assert alive, stderr
    assert restarts == 1, stderr
    orders = await read_all(settings.require_bootstrap(), settings.orders_topic)
    assert len(orders) == 1, (orders, stderr)
    assert orders[0]["trigger"] == f"tick:XYZ:{mm.tick(100.0, 1).ts_ns}"


async def test_exactly_once_stops_when_the_new_producer_cannot_start_in_time(
    kafka_cluster: ApacheKafka, topic_prefix: str
) -> None:
    """The follower stays frozen: the new producer's start waits for the abort's markers,
    which wait for the frozen replica, and the service stops on the deadline in one line."""
    settings = _settings(kafka_cluster, topic_prefix, "exactly_once")
    cause, _ = await _stop_line(kafka_cluster, settings)
    assert "a new transactional producer did not start within 2 s" in cause


async def _stop_line(cluster: ApacheKafka, settings: Settings) -> tuple[str, str]:
    """Until the hedger stops on the unacknowledged order: it exits 1 with one line naming
    the error and no traceback. Returns that line and all it logged."""
    async with _unacknowledged_order(cluster, settings) as (process, _):
        code = await asyncio.to_thread(process.wait, 60)
        stderr = process.said()
    assert code == 1, stderr
    causes = [line for line in stderr.splitlines() if "stopped on an error" in line]
    assert len(causes) == 1, stderr
    assert "Traceback" not in stderr
    return causes[0], stderr


def _settings(cluster: ApacheKafka, prefix: str, delivery: str) -> Settings:
    return prefixed_settings(
        cluster.bootstrap,
        prefix,
        rate=mm.RATE,
        send_timeout_s=2.0,
        shutdown_timeout_s=3.0,
        delivery=delivery,
    )


@contextlib.asynccontextmanager
async def _unacknowledged_order(
    cluster: ApacheKafka, settings: Settings
) -> AsyncIterator[tuple[HedgerProcess, KafkaNode]]:
    """A hedger holding a book, one follower of the order partition frozen, then the tick
    that makes it send an order; the follower resumed at the end if not before."""
    bootstrap = cluster.bootstrap
    follower, leader = await uninvolved_node(cluster, settings)
    await _create_topics(bootstrap, settings, leader.node_id)
    try:
        async with Producer(bootstrap) as feed, child_hedger(settings) as process:
            await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
            await wait_until(lambda: has_book(settings, "mm-1"))
            await wait_until(lambda: _commits_landed(settings))
            follower.signal(signal.SIGSTOP)
            await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 1)), "XYZ")
            yield process, follower
    finally:
        follower.signal(signal.SIGCONT)


async def _gave_up(settings: Settings, process: HedgerProcess) -> bool:
    """The hedger counted a transaction given up on the send deadline (or stopped)."""
    try:
        restarts = await metric(settings, "hedger_delivery_restarts_total", cause="send_timeout")
    except OSError:  # the metrics port closed: it stopped
        return True
    return bool(restarts)


async def _order_sent(settings: Settings, process: HedgerProcess) -> bool:
    """An order is on the topic, read committed (or the hedger stopped). A look may time
    out: its bootstrap can pick the frozen node."""
    if process.poll() is not None:
        return True
    try:
        return bool(await records_now(settings.require_bootstrap(), settings.orders_topic))
    except TimeoutError:
        return False


async def uninvolved_node(cluster: ApacheKafka, settings: Settings) -> tuple[KafkaNode, KafkaNode]:
    """(a node coordinating neither of the hedger's groups, another node to lead)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        coordinators = {await _coordinator(admin, group) for group in _groups(settings)}
    finally:
        await admin.close()
    follower = next(node for node in cluster.nodes if node.node_id not in coordinators)
    leader = next(node for node in cluster.nodes if node is not follower)
    return follower, leader


async def _coordinator(admin: AIOKafkaAdminClient, group: str) -> int:
    """The node coordinating `group`; the first lookup on a new cluster makes the offsets
    topic, answering "not available" until it has leaders."""
    async with asyncio.timeout(30):
        while True:
            with contextlib.suppress(CoordinatorNotAvailableError):
                return await admin.find_coordinator(group)
            await asyncio.sleep(0.2)


def _groups(settings: Settings) -> list[str]:
    """The shared fill group and the instance's own (prices and fills of each batch)."""
    return [settings.group_id, f"{settings.group_id}.prices.{settings.instance_id}"]


async def _commits_landed(settings: Settings) -> bool:
    """The vol and the fill (offset 0 of each topic) are committed in both groups."""
    prices, fills = (
        TopicPartition(settings.prices_topic, 0),
        TopicPartition(settings.fills_topic, 0),
    )
    expected = [{fills: 1}, {prices: 1, fills: 1}]  # in the order of `_groups`
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        committed = [await admin.list_consumer_group_offsets(g) for g in _groups(settings)]
    finally:
        await admin.close()
    offsets = [{tp: meta.offset for tp, meta in group.items()} for group in committed]
    return offsets == expected


async def _create_topics(bootstrap: str, settings: Settings, leader: int) -> None:
    """The order topic on every node, led by `leader`; the others on `leader` alone."""
    others = [n for n in (1, 2, 3) if n != leader]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(topic, -1, -1, replica_assignments={0: replicas})
                for topic, replicas in [
                    (settings.orders_topic, [leader, *others]),
                    *[(t, [leader]) for t in settings.topics if t != settings.orders_topic],
                ]
            ]
        )
    finally:
        await admin.close()
    await ensure_topics(bootstrap, settings.topics)  # returns once every node knows them
