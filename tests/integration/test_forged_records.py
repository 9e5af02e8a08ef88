"""Records written to the hedger's order and control topics by another client, as anyone
can on a broker without ACLs, have no effect when the hedger signs its records.

A snapshot manifest written again by another client is not believed either.

The README's market maker: the hedger sells 6,000 XYZ. Another client then writes a
50,000-share "order" of mm-1 and a kill switch engaging every book. Tried without a key,
the forged order came back as working on the restart (and the hedger then sent a real
buy against it) and the switch stopped every book. With `HEDGER_RECORD_KEY_FILE`, both are
dead-lettered and counted, the hedger's own order is rebuilt as working, and a kill
switch through `POST /control/kill` (which the service signs) still takes effect.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import orjson
import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    Producer,
    books,
    metric,
    read_all,
    read_messages,
    read_topic,
    running_hedger,
    wait_until,
)
from tests.integration.test_controls_broker import control_settings, post
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def test_forged_orders_and_controls_have_no_effect_and_are_dead_lettered(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    key = tmp_path / "record-key"
    key.write_text(secrets.token_hex(32) + "\n")
    settings = await control_settings(
        kafka_bootstrap, topic_prefix, tmp_path, record_key_file=str(key)
    )
    async with Producer(kafka_bootstrap) as client, running_hedger(settings):
        await client.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await client.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        await client.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        (opening,) = await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        await forge(client, settings, opening)
        await wait_until(lambda: _dead_lettered(settings, 1))  # the control, read live
        live = await books(settings)
        # The snapshot taken after the start's rebuild, its manifest written again unsigned.
        written = await read_topic(kafka_bootstrap, settings.snapshot_topic, 1)
        manifest = next(r for r in reversed(written) if r.key and b"#" not in r.key)
        await client.send(settings.snapshot_topic, manifest.value or b"", manifest.key.decode())

    async with running_hedger(settings):
        rebuilt = await books(settings)
        from_snapshot = await metric(settings, "hedger_rebuild_from_snapshot")
        await wait_until(lambda: _dead_lettered(settings, 1))  # the order, at the rebuild
        status, _ = await post(settings, "/control/kill", {"book": "mm-1", "engaged": True})
        await wait_until(lambda: _engaged(settings))
        signed = await books(settings)

    assert (opening["side"], opening["qty"]) == ("sell", 6000)
    assert live["kill_switches"] == {}
    assert list(rebuilt["working_orders"]) == [opening["order_id"]]
    assert rebuilt["kill_switches"] == {}
    assert from_snapshot == 0.0  # the unsigned manifest, newest, is not believed
    assert status == 202
    assert signed["kill_switches"] == {"mm-1": "desk-alice"}
    dead_letters = await read_all(kafka_bootstrap, settings.dlq_topic)
    assert sorted(str(letter.get("order_id", letter["type"])) for letter in dead_letters) == [
        "H-forged",
        "kill",
    ]


async def forge(client: Producer, settings: Settings, opening: dict[str, object]) -> None:
    order = {**opening, "order_id": "H-forged", "side": "sell", "qty": 50_000}
    await client.send(settings.orders_topic, orjson.dumps(order), "mm-1")
    kill = {"type": "kill", "book": "*", "engaged": True, "by": "mallory", "ts": 1}
    await client.send(settings.control_topic, orjson.dumps(kill), "*")


async def _dead_lettered(settings: Settings, count: int) -> bool:
    unsigned = await metric(settings, "hedger_invalid_messages_total", reason="unsigned")
    return (unsigned or 0) >= count


async def _engaged(settings: Settings) -> bool:
    return (await books(settings))["kill_switches"] == {"mm-1": "desk-alice"}
