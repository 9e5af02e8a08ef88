"""Rebuilding from the order topic: the orders read back take from the rate limits in
event-time order, whatever partition each sits on, and those decided on inputs the rebuilt
state has not handled yet are held until that input is handled again. And reading a topic
to the offsets a rebuild stops at, whatever the consumer read before."""

from __future__ import annotations

import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition

from hedger.adapters.kafka import make_consumer, make_producer
from hedger.codec import encode_order
from hedger.config import Settings
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.engine import HedgeEngine
from hedger.core.events import Side
from hedger.recovery import Record, read_to, rebuild_orders
from tests.conftest import KafkaTopics
from tests.integration.harness import started

pytestmark = pytest.mark.broker

SECOND_NS = 1_000_000_000
T0_NS = 1_795_185_000 * SECOND_NS
# One order a second over all books, refilled at one a second: in time order the budget
# stays full; books read one after the other leave it 19 orders in debt.
SETTINGS = Settings(total_orders_per_minute=60.0, total_order_burst=10.0)


def _order(book: str, second: int) -> SubmitHedgeOrder:
    return SubmitHedgeOrder(
        order_id=f"H-{book}-{second}",
        book=book,
        symbol="XYZ",
        side=Side.SELL if second % 4 < 2 else Side.BUY,
        qty=100.0,
        ts_ns=T0_NS + second * SECOND_NS,
        ref_price=100.0,
        reason="band",
        delta_before=150.0,
        target_delta=0.0,
        policy="band",
        trigger=f"tick:XYZ:{second}",
    )


async def test_orders_on_two_partitions_spend_the_total_budget_in_event_time_order(
    kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    (topic,) = await kafka_topics("hedger.orders", partitions=2)
    # Book a on partition 0 at even seconds, book b on partition 1 at odd ones.
    orders = {
        0: [_order("a", s) for s in range(0, 60, 2)],
        1: [_order("b", s) for s in range(1, 60, 2)],
    }
    async with started(make_producer(kafka_bootstrap, "test-orders")) as producer:
        for partition, sent in orders.items():
            for order in sent:
                await producer.send_and_wait(topic, encode_order(order), partition=partition)
    engine = HedgeEngine(SETTINGS.engine_config())
    read, _, _ = await rebuild_orders(kafka_bootstrap, topic, {0, 1}, engine, {})

    next_second_ns = T0_NS + 60 * SECOND_NS
    rate = engine.desk.setup("a").limits.rate
    assert read == 60
    assert engine.desk.throttle.refusal("a", rate, next_second_ns) is None


async def test_orders_decided_on_inputs_past_the_committed_offset_are_held_not_applied(
    kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    orders_topic, prices_topic = await kafka_topics("hedger.orders", "hedger.prices")
    sources = [5, 6, 7]  # price offsets the orders were decided on
    async with started(make_producer(kafka_bootstrap, "test-orders")) as producer:
        for second, offset in zip(range(3), sources, strict=True):
            headers = [
                ("source_topic", prices_topic.encode()),
                ("source_partition", b"0"),
                ("source_offset", str(offset).encode()),
            ]
            order = encode_order(_order("a", second))
            await producer.send_and_wait(orders_topic, order, headers=headers)
    engine = HedgeEngine(SETTINGS.engine_config())
    # The rebuilt state has handled prices up to offset 6 (not 6 itself).
    handled_to = {TopicPartition(prices_topic, 0): 6}
    read, ahead, _ = await rebuild_orders(kafka_bootstrap, orders_topic, {0}, engine, handled_to)

    assert read == 3
    assert list(engine.working_orders()) == ["H-a-0"]
    assert len(ahead) == 2
    assert not ahead.holds(_record(prices_topic, 5))
    assert ahead.holds(_record(prices_topic, 6))
    # Each joins the state just before its input is handled again, once.
    assert [event.order_id for event in ahead.take(_record(prices_topic, 7))] == ["H-a-2"]
    assert ahead.take(_record(prices_topic, 7)) == []
    assert len(ahead) == 1


def _record(topic: str, offset: int) -> Record:
    return ConsumerRecord(topic, 0, offset, 0, 0, None, b"", None, 0, 0, ())


async def test_read_to_moves_a_consumer_that_read_ahead_back_to_each_target(
    kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    """As after a fencing: the same consumer read past the committed offsets for batches
    whose transaction was aborted; the rebuild must hand those records out again, also on
    a partition with nothing committed (a target of 0)."""
    (topic,) = await kafka_topics("hedger.fills", partitions=2)
    first, second = TopicPartition(topic, 0), TopicPartition(topic, 1)
    async with started(make_producer(kafka_bootstrap, "test-fills")) as producer:
        for tp in (first, second):
            for n in range(3):
                await producer.send_and_wait(topic, b"%d" % n, partition=tp.partition)
    handled: list[tuple[int, int]] = []

    async def handle(record: Record) -> None:
        handled.append((record.partition, record.offset))

    async with started(make_consumer(kafka_bootstrap, "test-read-to", None)) as consumer:
        consumer.assign([first, second])
        await read_to(consumer, {first: 3, second: 3}, handle)  # the aborted batches
        handled.clear()

        await read_to(consumer, {first: 0, second: 2}, handle)

        assert handled == [(1, 0), (1, 1)]
        assert (await consumer.position(first), await consumer.position(second)) == (0, 2)
