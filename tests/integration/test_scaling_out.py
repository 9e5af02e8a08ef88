"""Scaling out and its monitoring, on a real broker: two instances share the books, and
consumer lag counts every record not yet handled.

Fills and orders are keyed by book: with two fill partitions, book mm-2 lands on partition
0 and mm-1 on partition 1 (aiokafka's default partitioner; the test checks it). Every
instance reads every price partition.
"""

from __future__ import annotations

import dataclasses

import pytest
from aiokafka.partitioner import DefaultPartitioner

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.events import Event, FillReport
from hedger.runtime import HedgerService
from tests.integration.harness import (
    Producer,
    free_port,
    hedger_settings,
    metric,
    read_all,
    running_hedger,
    wait_until,
)
from tests.integration.test_hedger_restart import reference_orders
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

BOOKS = ("mm-1", "mm-2")
HOUR = 3600 * mm.SECOND


def client_fill(book: str) -> FillReport:
    return dataclasses.replace(mm.client_buys_calls(), fill_id=f"C-{book}", book=book)


def books_held(service: HedgerService) -> set[str]:
    return {exposure.book for exposure in service.engine.exposures()}


def fill_partitions(service: HedgerService) -> set[int]:
    return {tp.partition for tp in service._inputs.fills.assignment()}


async def lag_series(settings: Settings) -> dict[str, float | None]:
    return {
        str(partition): await metric(
            settings,
            "hedger_consumer_lag_messages",
            topic=settings.fills_topic,
            partition=str(partition),
        )
        for partition in (0, 1)
    }


async def test_two_instances_split_the_books_and_one_takes_over_when_the_other_leaves(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    partitioner = DefaultPartitioner()
    assert [partitioner(book.encode(), [0, 1], [0, 1]) for book in BOOKS] == [1, 0]
    first = await hedger_settings(
        kafka_bootstrap,
        topic_prefix,
        partitions=2,
        rate=mm.RATE,
        band_shares=100.0,
        lot_size=100.0,
        min_interval_ms=0,
        instance_id="a",
    )
    inputs: list[Event] = [mm.vol(), *(client_fill(book) for book in BOOKS), mm.tick(100.0, 0)]
    async with Producer(kafka_bootstrap) as feed, running_hedger(first) as a:
        assert fill_partitions(a) == {0, 1}
        await feed.send(first.prices_topic, encode_vol(mm.vol()), "XYZ")
        for book in BOOKS:
            await feed.send(first.fills_topic, encode_fill(client_fill(book)), book)
        # The books first, then the tick: the reference's order of inputs.
        await wait_until(lambda: books_held(a) == set(BOOKS))
        await feed.send(first.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        await wait_until(lambda: _orders_on_topic(first, 2))
        assert await lag_series(first) == {"0": 0.0, "1": 0.0}

        # The port is taken just before use: picked at the start, a broker client's
        # ephemeral port took it meanwhile once ("address already in use").
        second = dataclasses.replace(first, instance_id="b", metrics_port=free_port())
        async with running_hedger(second) as b:
            await wait_until(lambda: a.not_ready_reason() is None and len(fill_partitions(a)) == 1)
            owned_by_a = fill_partitions(a)
            assert fill_partitions(b) == {0, 1} - owned_by_a
            # Each instance holds the books of its partition only, and exports lag for it.
            assert books_held(a) == {BOOKS[1 - p] for p in owned_by_a}
            assert books_held(b) == set(BOOKS) - books_held(a)
            assert set((await lag_series(first)).values()) == {0.0, None}
            assert (await lag_series(first))[str(min(owned_by_a))] == 0.0
            await feed.send(first.prices_topic, encode_tick(mm.tick(102.0, 60)), "XYZ")
            inputs.append(mm.tick(102.0, 60))
            await wait_until(lambda: _orders_on_topic(first, 4))
            for service, settings in ((a, first), (b, second)):
                (book,) = books_held(service)
                assert await metric(settings, "hedger_hedge_orders_total", book=book) >= 1

        # b has left: a takes its partition back, rebuilds that book with its working order.
        await wait_until(lambda: a.not_ready_reason() is None and fill_partitions(a) == {0, 1})
        assert books_held(a) == set(BOOKS)
        await feed.send(first.prices_topic, encode_tick(mm.tick(104.0, 120)), "XYZ")
        inputs.append(mm.tick(104.0, 120))
        await wait_until(lambda: _orders_on_topic(first, 6))
        await wait_until(a.caught_up)

    sent = await read_all(kafka_bootstrap, first.orders_topic)
    expected = reference_orders(first, inputs)
    assert len(expected) == 6
    assert sorted((o["order_id"], o["side"], o["qty"]) for o in sent) == sorted(expected)


async def test_fills_held_back_by_the_event_time_merge_count_as_lag(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    # Fills an hour ahead of the price feed wait for it (up to the merge wait): they are
    # read but not handled, and the lag says so.
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, merge_wait_ms=600_000
    )
    async with Producer(kafka_bootstrap) as feed, running_hedger(settings) as service:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        for index in range(3):
            ahead = dataclasses.replace(
                client_fill("mm-1"), fill_id=f"A-{index}", ts_ns=mm.START_NS + HOUR
            )
            await feed.send(settings.fills_topic, encode_fill(ahead), "mm-1")
        await wait_until(lambda: _lag(settings, prices=0.0, fills=3.0))
        assert books_held(service) == set()


async def _lag(settings: Settings, prices: float, fills: float) -> bool:
    """Both topics' lag as given: prices read and handled, fills read and held back."""
    name = "hedger_consumer_lag_messages"
    return (
        await metric(settings, name, topic=settings.prices_topic) == prices
        and await metric(settings, name, topic=settings.fills_topic) == fills
    )


async def _orders_on_topic(settings: Settings, count: int) -> bool:
    return len(await read_all(settings.require_bootstrap(), settings.orders_topic)) >= count
