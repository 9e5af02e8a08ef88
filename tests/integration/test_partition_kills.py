"""Kills and restarts on 2 and 6 partitions: the same orders as one uninterrupted run,
nothing lost, nothing sent twice.

The bundled feed arrives in six 5-minute slices of event time, each loaded while the hedger
is down; each run is killed (SIGKILL) a little later after it is ready than the one before,
so a run may die while catching up (two records a batch, so catching up takes a while),
or after (how many of each depends on the machine; every run is killed). After
the last run has handled everything: no order id on the order topic twice, the orders are
those of one uninterrupted run over the whole feed loaded at once (ids, books, sides,
quantities: a restart resumes from the committed batch and handles the rest again, and
what it sent before the kill is not sent again), each book's working shares are exactly
the orders on the topic (none counted twice or lost across the restarts: nothing fills
them here), its shares exactly the client share fills on the fill topic, and every book
is inside its band.
"""

from __future__ import annotations

import asyncio
import signal

import pytest

from hedger.config import Settings
from producers.routing import TimeWindow
from tests.integration.bundled_feed import check_as_uninterrupted, load_bundled_feed
from tests.integration.harness import (
    books,
    child_hedger,
    handled_everything,
    hedger_settings,
    wait_until,
)

pytestmark = pytest.mark.broker

SECOND = 1_000_000_000
FEED_START_NS = 1_795_185_000 * SECOND
SLICE_NS = 300 * SECOND
SLICES = 6
KILL_STEP_S = 0.1


@pytest.mark.parametrize("partitions", [2, 6])
async def test_kills_and_restarts_on_many_partitions_lose_nothing_and_send_nothing_twice(
    kafka_bootstrap: str, topic_prefix: str, partitions: int
) -> None:
    # Two records a batch: a slice takes long enough to catch up that kills land within it.
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, partitions=partitions, batch_max_records=2
    )
    kills = 0
    for index in range(SLICES):
        await _load_slice(settings, index)
        async with child_hedger(settings) as process:
            await asyncio.sleep(KILL_STEP_S * index)
            process.send_signal(signal.SIGKILL)
            kills += process.wait(timeout=10) == -signal.SIGKILL
    async with child_hedger(settings):
        await wait_until(lambda: handled_everything(settings))
        state = await books(settings)
    assert kills == SLICES
    await check_as_uninterrupted(settings, state, topic_prefix, partitions)
    for exposure in state["exposures"]:
        net = exposure["delta"] + exposure["working_shares"]
        assert abs(net) <= settings.band_shares + settings.lot_size / 2, exposure


async def _load_slice(settings: Settings, index: int) -> None:
    start_ns = FEED_START_NS + index * SLICE_NS
    last = index == SLICES - 1
    await load_bundled_feed(settings, TimeWindow(start_ns, None if last else start_ns + SLICE_NS))
