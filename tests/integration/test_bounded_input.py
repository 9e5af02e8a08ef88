"""5,000 fills under random book names, as anyone who may write the fill topic can send:
/metrics stays small.

With `HEDGER_BOOKS` set, every one of them goes to the dead-letter topic, counted, and no
series names them. With no list, the metrics keep `HEDGER_MAX_LABEL_VALUES` books and
count the updates they drop (without the budget, the scrape names all 5,000 books, each
in some twenty series)."""

from __future__ import annotations

import secrets

import pytest
from prometheus_client.parser import text_string_to_metric_families

from hedger.adapters.kafka import deliver, make_producer
from hedger.codec import encode_fill
from hedger.config import Settings
from hedger.core.events import FillReport, Side
from tests.integration.harness import (
    hedger_settings,
    http_get,
    metric,
    running_hedger,
    wait_until,
)

pytestmark = pytest.mark.broker

FILLS = 5000
KEPT = 20
START_NS = 1_790_000_000 * 10**9


async def test_random_books_are_dead_lettered_outside_the_configured_books(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix, books=frozenset({"mm-1"}))
    async with running_hedger(settings):
        await send_random_book_fills(settings)
        await wait_until(lambda: _dead_lettered(settings, FILLS), timeout_s=120)
        books = await labelled_books(settings)
        size = len((await http_get(settings, "/metrics"))[1])
    assert books == set()
    assert size < 50_000


async def test_the_metrics_keep_a_bounded_number_of_books(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix, max_label_values=KEPT)
    async with running_hedger(settings) as service:
        await send_random_book_fills(settings)
        await wait_until(lambda: _booked(service.engine.positions(), FILLS), timeout_s=120)
        books = await labelled_books(settings)
        dropped = await metric(settings, "hedger_metric_label_values_dropped_total", label="book")
        size = len((await http_get(settings, "/metrics"))[1])
    assert len(books) == KEPT
    assert dropped is not None
    assert dropped >= FILLS - KEPT
    assert size < 100_000


async def send_random_book_fills(settings: Settings) -> None:
    producer = make_producer(settings.require_bootstrap(), "random-books")
    await producer.start()
    try:
        sends = []
        for index in range(FILLS):
            book = "b-" + secrets.token_hex(6)
            fill = FillReport(f"f-{index}", book, "XYZ", Side.BUY, 1.0, 100.0, START_NS + index)
            sends.append(
                await producer.send(settings.fills_topic, encode_fill(fill), key=book.encode())
            )
        await deliver(sends, timeout_s=60)
    finally:
        await producer.stop()


async def labelled_books(settings: Settings) -> set[str]:
    """Every book a series of the live scrape names."""
    _, body = await http_get(settings, "/metrics")
    return {
        sample.labels["book"]
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
        if "book" in sample.labels
    }


async def _dead_lettered(settings: Settings, count: int) -> bool:
    labels = {"reason": "unknown_book"}
    return (await metric(settings, "hedger_invalid_messages_total", **labels) or 0) >= count


async def _booked(positions: dict[tuple[str, str], float], count: int) -> bool:
    return len(positions) >= count
