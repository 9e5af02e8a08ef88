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
from collections import defaultdict
from typing import Any

import pytest

from hedger.config import Settings
from producers.replay import TimeWindow
from tests.integration.bundled_feed import hedge_bundled_feed, load_bundled_feed, order_keys
from tests.integration.harness import (
    books,
    child_hedger,
    handled_everything,
    hedger_settings,
    read_all,
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
    orders = await read_all(kafka_bootstrap, settings.orders_topic)
    fills = await read_all(kafka_bootstrap, settings.fills_topic)
    uninterrupted, _ = await hedge_bundled_feed(
        kafka_bootstrap, f"{topic_prefix}whole.", partitions
    )

    assert kills == SLICES
    ids = [order["order_id"] for order in orders]
    assert len(ids) > 50
    assert len(ids) == len(set(ids)), "an order id was sent twice"
    assert order_keys(orders) == uninterrupted
    ordered, filled = (
        _signed_sums(orders),
        _signed_sums(
            [fill for fill in fills if " " not in fill["instrument"]]  # shares, not OCC options
        ),
    )
    for exposure in state["exposures"]:
        key = (exposure["book"], exposure["underlying"])
        assert exposure["working_shares"] == pytest.approx(ordered.get(key, 0.0)), key
        assert exposure["shares"] == pytest.approx(filled.get(key, 0.0)), key
        net = exposure["delta"] + exposure["working_shares"]
        assert abs(net) <= settings.band_shares + settings.lot_size / 2, key


async def _load_slice(settings: Settings, index: int) -> None:
    start_ns = FEED_START_NS + index * SLICE_NS
    last = index == SLICES - 1
    await load_bundled_feed(settings, TimeWindow(start_ns, None if last else start_ns + SLICE_NS))


def _signed_sums(records: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for record in records:
        symbol = record.get("symbol") or record["instrument"]
        sums[(record["book"], symbol)] += record["qty"] * (1 if record["side"] == "buy" else -1)
    return sums
