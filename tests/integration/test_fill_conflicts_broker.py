"""A fill id reused with other terms, through the broker: dead-lettered, its book latched
on the control topic (so a restart finds it latched), whether it arrives live or while the
hedger is down."""

from __future__ import annotations

import dataclasses

import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    Producer,
    books,
    hedger_settings,
    metric,
    read_messages,
    read_topic,
    running_hedger,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

CONFLICTING = dataclasses.replace(mm.client_buys_calls(), qty=mm.CONTRACTS * 2)


async def _latched(settings: Settings) -> bool:
    return "mm-1" in (await books(settings))["latched_books"]


async def _latch_shown(settings: Settings) -> bool:
    """Latched in /books and in the gauge (set at the end of the batch that latched it)."""
    gauge = await metric(settings, "hedger_book_latched", book="mm-1")
    return gauge == 1 and await _latched(settings)


async def _dead_letter_reasons(settings: Settings, count: int) -> list[bytes]:
    letters = await read_topic(settings.require_bootstrap(), settings.dlq_topic, count)
    return [dict(letter.headers)["reason"] for letter in letters]


@pytest.mark.parametrize("while_down", [False, True], ids=["live", "while_down"])
async def test_a_conflicting_fill_is_dead_lettered_and_latches_its_book_across_a_restart(
    kafka_bootstrap: str, topic_prefix: str, while_down: bool
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, band_shares=100.0, lot_size=100.0
    )
    async with Producer(kafka_bootstrap) as feed:
        async with running_hedger(settings):
            await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
            await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
            await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
            await read_messages(kafka_bootstrap, settings.orders_topic, 1)
            if not while_down:
                await feed.send(settings.fills_topic, encode_fill(CONFLICTING), "mm-1")
                await wait_until(lambda: _latched(settings))
        if while_down:
            await feed.send(settings.fills_topic, encode_fill(CONFLICTING), "mm-1")
        async with running_hedger(settings):
            await wait_until(lambda: _latch_shown(settings))
            reasons = await _dead_letter_reasons(settings, 1)
            latch = (await read_messages(kafka_bootstrap, settings.control_topic, 1))[0]

    assert reasons == [b"conflicting_fill"]
    assert (latch["type"], latch["book"]) == ("latch", "mm-1")
    assert "'C-1' seen before with other terms" in latch["reason"]
