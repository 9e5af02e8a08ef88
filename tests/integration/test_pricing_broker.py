"""Option quotes and `hedger risk --bootstrap` through a real broker."""

from __future__ import annotations

import asyncio

import pytest

from hedger.codec import encode_fill, encode_quote, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.engine import HedgeEngine
from hedger.core.events import OptionQuote
from hedger.risk_report import read_topics, render, replay
from tests.integration.harness import (
    Producer,
    hedger_settings,
    metric,
    read_topic,
    running_hedger,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


async def delta_between(settings: Settings, low: float, high: float) -> bool:
    delta = await metric(settings, "hedger_delta_exposure", book="mm-1", underlying="XYZ")
    return delta is not None and low <= delta <= high


async def test_quote_below_intrinsic_is_dead_lettered_and_a_good_one_moves_the_book(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, band_shares=1e12, lot_size=100.0
    )
    below = encode_quote(OptionQuote(mm.CALL.occ_symbol, mm.START_NS + 1, 0.5, 1.0))
    # About 45% vol on the 98 call at spot 100: well inside the bounds.
    good = encode_quote(OptionQuote(mm.CALL.occ_symbol, mm.START_NS + 2, 8.9, 9.1))
    async with running_hedger(settings), Producer(kafka_bootstrap) as feed:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        await wait_until(lambda: delta_between(settings, 5_999.5, 6_000.5))
        await feed.send(settings.prices_topic, below, "XYZ")
        await feed.send(settings.prices_topic, good, "XYZ")
        (dead,) = await read_topic(kafka_bootstrap, settings.dlq_topic, 1)
        # A higher implied vol pulls an in-the-money call's delta towards 0.5.
        await wait_until(lambda: delta_between(settings, 0.0, 5_950.0))
        counted = await metric(
            settings,
            "hedger_invalid_messages_total",
            topic=settings.prices_topic,
            reason="below_intrinsic",
        )

    assert dead.value == below
    assert dict(dead.headers)["reason"] == b"below_intrinsic"
    assert counted == 1.0


async def test_risk_report_reads_the_topics_to_their_end(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(kafka_bootstrap, topic_prefix, rate=mm.RATE)
    async with Producer(kafka_bootstrap) as feed:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")

    messages = await asyncio.wait_for(read_topics(kafka_bootstrap, settings), 30)
    engine = HedgeEngine(settings.engine_config())
    unusable = replay(engine, messages)

    (exposure,) = engine.exposures()
    assert len(messages) == 3
    assert unusable == 0
    # docs/concepts/books.md's market-maker example: delta 0.60 on 10,000 calls at spot 100.
    assert exposure.delta == pytest.approx(6_000.0, abs=0.5)
    assert "mm-1  XYZ at 100.00" in render(engine, len(messages), unusable)
