"""Twenty-one crashes at named points over a stream: every order once for a committed
reader, and the orders of one uninterrupted run.

The bundled feed arrives in 21 slices of event time, each loaded while the hedger is down.
Each run is started with `HEDGER_CRASH_AT=<point>:<n>` (`hedger.crash_points`) and SIGKILLs
itself at the n-th batch holding a hedge order, at each point in turn: `decided` (nothing
sent), `sent` (queued, not acknowledged), `acknowledged` (not committed). A run that meets
fewer such batches is SIGKILLed once it has handled its slice. Two partitions, two records
a batch.

After a last, uninterrupted run has handled everything, read committed: no order id twice,
and the orders (ids, books, sides, quantities) equal those of one run over the whole feed
at once; each book's working shares are exactly the orders, its shares the client share
fills. On Apache Kafka (exactly once) the log also holds what the crashes after sending
left in aborted transactions: read uncommitted, some order ids are there twice, which is
what a reader without `read_committed` would act on. On the embedded broker (at least
once, no transactions) what was acknowledged before a crash is read back on restart and
not sent again, so even that view holds each id once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
from collections import Counter

import orjson
import pytest

from hedger.config import Settings
from hedger.crash_points import POINTS
from producers.routing import TimeWindow
from tests.integration.bundled_feed import check_as_uninterrupted, load_bundled_feed
from tests.integration.harness import (
    HedgerProcess,
    books,
    child_hedger,
    handled_everything,
    hedger_settings,
    http_get,
    is_ready,
    records_now,
    wait_until,
)

pytestmark = pytest.mark.broker

log = logging.getLogger(__name__)

SECOND = 1_000_000_000
FEED_START_NS = 1_795_185_000 * SECOND
RUNS = 21
SLICE_NS = 86 * SECOND


async def test_crashes_at_every_point_leave_each_order_once_for_a_committed_reader(
    request: pytest.FixtureRequest, kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, partitions=2, batch_max_records=2
    )
    crashed: Counter[str] = Counter()
    for index in range(RUNS):
        await _load_slice(settings, index)
        point, nth = POINTS[index % len(POINTS)], 1 + index // len(POINTS) % 3
        if await _crashed_itself(dataclasses.replace(settings, crash_at=f"{point}:{nth}")):
            crashed[point] += 1
    async with child_hedger(settings):
        await wait_until(lambda: handled_everything(settings))
        state = await books(settings)
        _, readiness = await http_get(settings, "/readyz")
    uncommitted = [
        orjson.loads(record.value or b"")
        for record in await records_now(kafka_bootstrap, settings.orders_topic, committed=False)
    ]
    # Most runs meet their n-th order batch; the rest were killed from outside.
    assert all(crashed[point] >= 4 for point in POINTS), crashed
    orders = await check_as_uninterrupted(settings, state, topic_prefix, 2)
    seen_twice = [i for i, n in Counter(o["order_id"] for o in uncommitted).items() if n > 1]
    log.warning(
        "crashes %s; %d orders committed, %d records on the log, %d ids there twice",
        dict(crashed),
        len(orders),
        len(uncommitted),
        len(seen_twice),
    )
    if request.node.callspec.params.get("kafka_bootstrap") == "apache":
        assert readiness == b"ready\ndelivery: exactly_once\n"
        assert seen_twice, "no crash left an aborted order on the log"
    else:
        assert not seen_twice


async def _load_slice(settings: Settings, index: int) -> None:
    start_ns = FEED_START_NS + index * SLICE_NS
    last = index == RUNS - 1
    await load_bundled_feed(settings, TimeWindow(start_ns, None if last else start_ns + SLICE_NS))


async def _crashed_itself(settings: Settings) -> bool:
    """Run `hedger run` until it dies at its crash point (True) or has handled everything
    on its topics, when it is killed from outside (False)."""
    process = HedgerProcess(settings)

    async def died_or_done() -> bool:
        if process.poll() is not None:
            return True
        return await is_ready(settings) and await handled_everything(settings)

    try:
        try:
            await wait_until(died_or_done)
        except TimeoutError:
            process.kill()
            await asyncio.to_thread(process.wait, 10)
            raise AssertionError(f"neither crashed nor done:\n{process.said()}") from None
        crashed = process.poll() is not None
        if not crashed:
            process.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(process.wait, 10) == -signal.SIGKILL, process.said()
        return crashed
    finally:
        if process.poll() is None:
            process.kill()
            await asyncio.to_thread(process.wait, 10)
