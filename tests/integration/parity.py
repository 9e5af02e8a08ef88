"""Backtest-live parity, the machinery: a recording run through `hedger backtest` and through
the live service on the real broker, each giving its orders and its P&L figures.

The live service merges prices and fills only approximately by event time (README,
"Delivery and recovery"), so the live feed is sent one record at a time: each record only
after the hedger has committed the one before, and after every hedge order it caused has
been filled by the exchange and that fill consumed by the hedger. That makes the live
interleaving of prices and hedge fills the one the backtest uses (a fill due at time t is
handled before any later input), so any difference in orders is a difference in the engine
or the exchange, not in timing.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import orjson
import pytest

from hedger.adapters.topics import highwaters
from hedger.backtest.recorded import recorded_events
from hedger.backtest.runner import BacktestConfig, PathResult, run_path
from hedger.backtest.strategies import configured_strategy
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.events import Event, FillReport, PriceTick, VolUpdate
from hedger.core.pnl_attribution import ATTRIBUTION_TERMS
from hedger.runtime import HedgerService
from producers.execution import CostModel
from tests.backtest import scenario as sc
from tests.integration.harness import (
    Producer,
    committed,
    hedger_settings,
    metric,
    read_all,
    running_exchange,
    running_hedger,
    wait_until,
)

COSTS = {"half_spread": 0.01, "commission_per_order": 1.0}


def recorded_session() -> list[Event]:
    """40 ticks a minute apart, a client trade at 1 s and another after 20 minutes."""
    moves = np.random.default_rng(21).choice([-0.35, 0.35], size=40)
    spots = (100.0 + np.cumsum(moves)).round(2).tolist()
    first = sc.client_buys_calls(1, 40, round(sc.call_value(1, 100.0), 2), "C-1")
    second = sc.client_buys_calls(20 * 60 + 1, 25, round(sc.call_value(1201, spots[19]), 2), "C-2")
    ticks = [sc.tick(60 * (i + 1), spot) for i, spot in enumerate(spots)]
    return [sc.vol(0), sc.tick(0, 100.0), first, *ticks[:20], second, *ticks[20:]]


def write_recording(events: list[Event], path: Path) -> None:
    encoders = {PriceTick: encode_tick, VolUpdate: encode_vol, FillReport: encode_fill}
    path.write_bytes(b"".join(encoders[type(e)](e) + b"\n" for e in events))  # type: ignore[operator]


Orders = list[tuple[object, ...]]
# The P&L and each attribution term, summed over the books and underlyings.
Figures = dict[str, float]


def backtest(path: Path, settings: Settings) -> tuple[Orders, Figures]:
    engine = settings.engine_config()
    config = BacktestConfig(
        engine,
        CostModel(**COSTS),  # type: ignore[arg-type]
        sample_interval_ns=round(settings.pnl_interval_s * 1e9),
    )
    result = run_path(recorded_events([path]), configured_strategy(engine.policy), config)
    orders = [(o.order_id, o.side.value, o.qty, o.ts_ns, o.ref_price) for o in result.orders]
    return orders, backtest_figures(result)


def backtest_figures(result: PathResult) -> Figures:
    return {"pnl": result.final_pnl, **result.attribution}


async def live_figures(settings: Settings) -> Figures:
    figures = {"pnl": await metric(settings, "hedger_pnl")}
    for term in ATTRIBUTION_TERMS:
        figures[term] = await metric(settings, "hedger_pnl_attribution", term=term)
    assert None not in figures.values(), figures
    return figures  # type: ignore[return-value]


async def live_run(lines: list[bytes], settings: Settings) -> tuple[Orders, Figures]:
    bootstrap = settings.require_bootstrap()
    async with (
        running_hedger(settings) as service,
        running_exchange(settings, **COSTS),
        Producer(bootstrap) as feed,
    ):
        for line in lines:
            message = orjson.loads(line)
            if message["type"] == "fill":
                await feed.send(settings.fills_topic, line, message["book"])
            else:
                await feed.send(settings.prices_topic, line, message["symbol"])
            await wait_until(lambda: settled(service, settings))
        figures = await live_figures(settings)
    sent = await read_all(bootstrap, settings.orders_topic)
    orders = [(o["order_id"], o["side"], o["qty"], o["ts"], o["ref_price"]) for o in sent]
    return orders, figures


async def settled(service: HedgerService, settings: Settings) -> bool:
    """Every record on both input topics (the exchange's fills included) is committed by
    the hedger, and no hedge order (of shares or options) is still waiting for its fill."""
    if working(service):
        return False
    bootstrap = settings.require_bootstrap()
    prices_group = f"{settings.group_id}.prices.{settings.instance_id}"
    for group, topic in (
        (settings.group_id, settings.fills_topic),
        (prices_group, settings.prices_topic),
    ):
        end = sum((await highwaters(bootstrap, topic)).values())
        if await committed(bootstrap, group, topic) < end:
            return False
    return not working(service)


def working(service: HedgerService) -> bool:
    return bool(service.engine.working_orders() or service.engine.option_hedger.working)


async def parity_settings(bootstrap: str, prefix: str, **overrides: object) -> Settings:
    return await hedger_settings(
        bootstrap,
        prefix,
        rate=sc.RATE,
        default_vol=sc.VOL,
        lot_size=1.0,
        min_interval_ms=0,
        **overrides,
    )


async def replayed_both_ways(
    events: list[Event], settings: Settings, tmp_path: Path
) -> tuple[Orders, Figures]:
    """The backtest's orders and figures for `events`, once the live service's were found
    equal to them."""
    path = tmp_path / "session.jsonl"
    write_recording(events, path)
    expected_orders, expected_figures = backtest(path, settings)
    orders, figures = await live_run(path.read_bytes().splitlines(), settings)
    assert orders == expected_orders
    assert figures == pytest.approx(expected_figures, rel=1e-9, abs=1e-6)
    return expected_orders, expected_figures


def timed_session() -> list[Event]:
    """Ticks every 5 s for 12 minutes; two client trades (books mm-1 and mm-2) at the very
    same time, 62 s in, and a vol change at 7 minutes."""
    moves = np.random.default_rng(22).choice([-0.05, 0.05], size=144)
    spots = (100.0 + np.cumsum(moves)).round(2).tolist()
    ticks = [sc.tick(5 * (i + 1), spot) for i, spot in enumerate(spots)]
    price = round(sc.call_value(62, spots[11]), 2)
    first = sc.client_buys_calls(62, 30, price, "C-1")
    second = dataclasses.replace(sc.client_buys_calls(62, 20, price, "C-2"), book="mm-2")
    return [
        sc.vol(0),
        sc.tick(0, 100.0),
        *ticks[:12],
        first,
        second,
        *ticks[12:84],
        sc.vol(420.5, sc.VOL + 0.02),
        *ticks[84:],
    ]
