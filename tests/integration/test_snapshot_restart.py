"""A restart reads the last book-state snapshot and the inputs after it, on a real broker.

One history, four `hedger run`s: the first handles the first half live; the second rebuilds
it, snapshots it at once and handles the second half; the third (after a SIGKILL) starts
from that snapshot and reads only the tail; the fourth, snapshots off, replays everything.
The third and fourth hold the same books and working orders, and every order on the topic
is the one an uninterrupted engine decides, once. A snapshot that must not be used (written
by someone else, holding code) is refused, and the restart replays from the start.
"""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
import signal
import zlib

import orjson
import pytest

from hedger.adapters.snapshots import snapshot_name
from hedger.codec import encode_fill, encode_tick
from hedger.config import Settings
from hedger.engine_snapshot import FINGERPRINT
from tests.integration.harness import (
    Producer,
    books,
    child_hedger,
    has_book,
    metric,
    read_all,
    wait_committed,
    wait_until,
)
from tests.integration.test_hedger_restart import (
    by_book,
    feed_a_calm_start,
    random_walk_ticks,
    reference_orders,
    second_client_fill,
    walk_settings,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


class _RunsCode:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, ("touch should-never-exist",)


async def _plant_snapshot_with_code(settings: Settings) -> None:
    """A newer manifest under the instance's name, whose chunk would run code if loaded."""
    name = snapshot_name(settings.group_id, settings.fills_topic, {0})
    data = zlib.compress(pickle.dumps(_RunsCode(), protocol=5))
    async with Producer(settings.require_bootstrap()) as producer:
        chunk = await producer.send(settings.snapshot_topic, data, f"{name}#0")
        manifest = {
            "generation": "planted",
            "fingerprint": FINGERPRINT,
            "chunks": [chunk.offset],
            "sha256": hashlib.sha256(data).hexdigest(),
            "inputs": [],
            "orders": [],
            "taken_ns": 0,
        }
        await producer.send(settings.snapshot_topic, orjson.dumps(manifest), name)


@pytest.mark.parametrize("snapshot", ["taken", "planted"])
async def test_a_restart_from_the_snapshot_and_the_tail_rebuilds_what_a_replay_does(
    kafka_bootstrap: str, topic_prefix: str, snapshot: str, tmp_path: object, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)  # where the planted snapshot's command would leave a file
    # A snapshot once after each rebuild only.
    settings = await walk_settings(kafka_bootstrap, topic_prefix, snapshot_interval_s=3600.0)
    calm = random_walk_ticks(60, 0, seed=1)
    busy = random_walk_ticks(120, 60, seed=2)
    late_fill = second_client_fill(calm[-1].ts_ns + 1)
    events = [mm.vol(), mm.client_buys_calls(), *calm, late_fill, *busy]

    async with Producer(kafka_bootstrap) as feed:
        async with child_hedger(settings):
            await feed_a_calm_start(feed, settings, calm)

        async with child_hedger(settings) as second:
            # Its rebuild read the first half; the snapshot of it is written at once.
            await wait_until(lambda: _positive(metric(settings, "hedger_snapshot_bytes")))
            await feed.send(settings.fills_topic, encode_fill(late_fill), "mm-2")
            await wait_until(lambda: has_book(settings, "mm-2"))
            for tick in busy:
                await feed.send(settings.prices_topic, encode_tick(tick), "XYZ")
            await wait_committed(settings, 1 + len(calm) + len(busy))
            second.send_signal(signal.SIGKILL)
            second.wait(timeout=10)

        if snapshot == "planted":
            await _plant_snapshot_with_code(settings)
        async with child_hedger(settings):
            from_snapshot = await metric(settings, "hedger_rebuild_from_snapshot")
            restored = await books(settings)

        async with child_hedger(dataclasses.replace(settings, snapshot_interval_s=0.0)):
            replayed_from_snapshot = await metric(settings, "hedger_rebuild_from_snapshot")
            replayed = await books(settings)

    assert from_snapshot == (1.0 if snapshot == "taken" else 0.0)
    assert replayed_from_snapshot == 0.0
    assert by_book(restored) == by_book(replayed)
    assert restored["working_orders"] == replayed["working_orders"]
    assert {e["book"] for e in by_book(restored)} == {"mm-1", "mm-2"}  # type: ignore[index]
    sent = await read_all(kafka_bootstrap, settings.orders_topic)
    ids = [o["order_id"] for o in sent]
    assert len(ids) == len(set(ids)), "an order id was sent twice"
    assert [(o["order_id"], o["side"], o["qty"]) for o in sent] == reference_orders(
        settings, events
    )
    assert not (tmp_path / "should-never-exist").exists()  # type: ignore[operator]


async def _positive(value: object) -> bool:
    found = await value  # type: ignore[misc]
    return found is not None and found > 0
