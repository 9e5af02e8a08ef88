"""Absurd but well-formed input through the broker: a tick dated 2100, a vol of 1e300, a
fill of 2^70 contracts are dead-lettered with their reasons, the valid input around them
is hedged as if they had never come, and a restart rebuilds the same state."""

from __future__ import annotations

import dataclasses
import math

import msgspec
import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.core.events import VolUpdate
from hedger.core.instruments import NANOS_PER_YEAR
from tests.integration.harness import (
    Producer,
    books,
    hedger_settings,
    read_messages,
    read_topic,
    running_hedger,
    wait_committed,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def test_absurd_ticks_vols_and_fills_are_dead_lettered_and_change_nothing(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, band_shares=100.0, lot_size=100.0
    )
    from_2100 = msgspec.structs.replace(mm.tick(90.0, 0), ts_ns=mm.START_NS + 74 * NANOS_PER_YEAR)
    absurd_vol = VolUpdate("XYZ", mm.START_NS, 1e300)
    huge_fill = dataclasses.replace(mm.client_buys_calls(), fill_id="C-2", qty=2.0**70)
    async with Producer(kafka_bootstrap) as feed:
        async with running_hedger(settings):
            await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
            await feed.send(settings.prices_topic, encode_tick(from_2100), "XYZ")
            await feed.send(settings.prices_topic, encode_vol(absurd_vol), "XYZ")
            await feed.send(settings.fills_topic, encode_fill(huge_fill), "mm-1")
            await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
            (first,) = await read_messages(kafka_bootstrap, settings.orders_topic, 1)
            letters = await read_topic(kafka_bootstrap, settings.dlq_topic, 3)
            await wait_committed(settings, 4)
            live = (await books(settings))["exposures"]
        async with running_hedger(settings):
            rebuilt = (await books(settings))["exposures"]

    assert sorted(dict(letter.headers)["reason"] for letter in letters) == [
        b"event_time_ahead",
        b"implausible_quantity",
        b"implausible_vol",
    ]
    # The example's first hedge, on the valid inputs alone: sell 6,000 at 100.
    assert (first["side"], first["qty"], first["ref_price"]) == ("sell", 6000, 100.0)
    (book,) = live
    assert book["mark"] == 100.0
    assert math.isfinite(book["delta"])
    assert abs(book["delta"] + book["working_shares"]) <= 100.0
    assert rebuilt == live
