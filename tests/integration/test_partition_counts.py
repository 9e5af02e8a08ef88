"""The same inputs give the same orders and the same books on 1, 2 and 6 partitions: the
service merges every fill and price partition in event time, so how records are spread
over partitions (and fetched partition by partition) does not change what it decides."""

from __future__ import annotations

from typing import Any

import pytest

from hedger.config import Settings
from hedger.demo import BUNDLED_FEED
from producers.replay import replay
from tests.integration.harness import hedger_settings, read_all, running_hedger, wait_until

pytestmark = pytest.mark.broker

PARTITION_COUNTS = (1, 2, 6)


async def load_bundled_feed(bootstrap: str, prefix: str, partitions: int) -> Settings:
    """Settings whose topics (of `partitions` partitions) hold the whole bundled feed."""
    settings: Settings = await hedger_settings(bootstrap, prefix, partitions=partitions)
    await replay(
        BUNDLED_FEED,
        bootstrap,
        speed=0,
        prices_topic=settings.prices_topic,
        fills_topic=settings.fills_topic,
        report=lambda _: None,
    )
    return settings


async def hedge_bundled_feed(
    bootstrap: str, prefix: str, partitions: int
) -> tuple[list[Any], list[Any]]:
    """The orders (by time, then id) and the books, of the bundled feed loaded onto
    `partitions` partitions before the service starts."""
    settings = await load_bundled_feed(bootstrap, prefix, partitions)
    async with running_hedger(settings) as service:
        await wait_until(service.caught_up)
        books = sorted(
            (e.book, e.underlying, round(e.delta, 6), e.shares, e.working_shares)
            for e in service.engine.exposures()
        )
    orders = await read_all(bootstrap, settings.orders_topic)
    keyed = sorted((o["ts"], o["order_id"], o["side"], o["qty"]) for o in orders)
    return keyed, books


async def test_the_bundled_feed_gives_the_same_orders_and_books_on_1_2_and_6_partitions(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    results = {
        count: await hedge_bundled_feed(kafka_bootstrap, f"{topic_prefix}p{count}.", count)
        for count in PARTITION_COUNTS
    }
    orders_of_one, books_of_one = results[1]
    assert len(orders_of_one) > 50
    for count in PARTITION_COUNTS[1:]:
        orders, books = results[count]
        assert orders == orders_of_one, f"{count} partitions: other orders than on 1"
        assert books == books_of_one, f"{count} partitions: other books than on 1"
