"""The leader of every fill and order partition SIGKILLed mid-stream on the three-node
cluster: the hedger carries on after the election, loses nothing and sends nothing twice.

Every topic of the test has two partitions, replicated on all three nodes and led by one
node that coordinates neither of the hedger's groups (killing a coordinator is a
different fault). The bundled feed is loaded, the hedger catches up two records a batch,
and that node is killed while fetches, sends, transactions and commits are under way.
After the election the same hedger process handles the rest; then, the node back, a
read_committed reader sees no order id twice and the orders of one uninterrupted run,
and each book's shares and working shares are its fills and orders.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from hedger.adapters.apache_kafka import ApacheKafka
from hedger.adapters.topics import ensure_topics
from hedger.config import Settings
from tests.integration.bundled_feed import check_as_uninterrupted, load_bundled_feed
from tests.integration.harness import (
    HedgerProcess,
    books,
    child_hedger,
    handled_everything,
    prefixed_settings,
    wait_until,
)
from tests.ops.test_exit_cause import uninvolved_node

pytestmark = pytest.mark.broker

PARTITIONS = 2


async def test_the_leader_of_the_fill_and_order_partitions_killed_mid_stream(
    kafka_cluster: ApacheKafka, topic_prefix: str
) -> None:
    bootstrap = kafka_cluster.bootstrap
    settings = prefixed_settings(bootstrap, topic_prefix, batch_max_records=2)
    leader, _ = await uninvolved_node(kafka_cluster, settings)
    await _create_topics_led_by(settings, leader.node_id)
    await load_bundled_feed(settings)
    try:
        async with child_hedger(settings) as process:
            await asyncio.sleep(0.5)  # catching up: two records a batch
            midstream = not await handled_everything(settings)
            leader.signal(signal.SIGKILL)
            await asyncio.to_thread(leader.process.wait, 10) if leader.process else None
            try:
                await wait_until(lambda: _handled_everything(settings), timeout_s=120)
                state = await books(settings)
            except TimeoutError:
                state = None
            alive = process.poll() is None
            process.kill()
            # Shown by pytest when the test fails: what the hedger went through.
            print(_tail(process))
    finally:
        await asyncio.to_thread(kafka_cluster.restart, leader)

    assert midstream
    assert alive, "the hedger stopped"
    assert state is not None, "the hedger did not handle every record within 120 s"
    await check_as_uninterrupted(settings, state, topic_prefix, PARTITIONS)


def _tail(process: HedgerProcess, lines: int = 80) -> str:
    """The last lines the (stopped) hedger logged."""
    return "\n".join(process.said().splitlines()[-lines:])


async def _handled_everything(settings: Settings) -> bool:
    """`handled_everything`, False while the dead node's partitions have no leader yet
    (the controller fences a silent broker after its session timeout, 9 s by default, and
    a read of the partitions' ends times out meanwhile)."""
    try:
        return await handled_everything(settings)
    except TimeoutError:
        return False


async def _create_topics_led_by(settings: Settings, leader: int) -> None:
    others = [n for n in (1, 2, 3) if n != leader]
    replicas = {0: [leader, *others], 1: [leader, *reversed(others)]}
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, -1, -1, replica_assignments=replicas) for topic in settings.topics]
        )
    finally:
        await admin.close()
    # Returns once every node knows them.
    await ensure_topics(settings.require_bootstrap(), settings.topics, PARTITIONS)
