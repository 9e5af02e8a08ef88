"""The same inputs give the same orders and the same books on 1, 2 and 6 partitions: the
service merges every fill and price partition in event time, so how records are spread
over partitions (and fetched partition by partition) does not change what it decides."""

from __future__ import annotations

import pytest

from tests.integration.bundled_feed import hedge_bundled_feed

pytestmark = pytest.mark.broker

PARTITION_COUNTS = (1, 2, 6)


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
