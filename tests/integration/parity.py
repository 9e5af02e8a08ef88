"""Backtest-live parity, the machinery: a recording run through `hedger backtest` and through
the live service on the real broker, each giving its orders (and cancels), its hedge fills
and its P&L figures.

The live service merges prices and fills only approximately by event time (docs/concepts/
delivery-and-recovery.md), so the live feed is sent one record at a time, in lock-step: each
record only after the hedger has committed the one before, and after every fill the
exchange plans for a working order at or before the next record's time has been made and
consumed by the hedger. The exchange is told how far the feed has got (`advance_to`): the
time of the earliest such fill, one fill time at a time, so that the hedger's answer to
each (a timer, a working-order timeout's cancel) is on the order topic before the exchange
makes the next. That makes the live interleaving of prices, hedge fills and cancels the one
the backtest uses (a fill due at time t is handled before any later input, and a cancel
issued before it stops it), so any difference is a difference in the engine or the
exchange, not in timing. The exchange's wall-clock fallback is kept out of the way.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from hedger.adapters.topics import highwaters
from hedger.backtest.recorded import recorded_events
from hedger.backtest.runner import BacktestConfig, PathResult, run_path
from hedger.backtest.strategies import configured_strategy
from hedger.codec import decode_fill, encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.control_codec import decode_order_event
from hedger.core.actions import CancelHedgeOrder, SubmitHedgeOrder
from hedger.core.events import Event, FillReport, HedgeOrderRecorded, PriceTick, VolUpdate
from hedger.core.pnl_attribution import ATTRIBUTION_TERMS
from hedger.runtime import HedgerService
from producers.execution import CostModel, plan_fills
from producers.paper_exchange import PaperExchange
from tests.backtest import scenario as sc
from tests.integration.harness import (
    DEADLINE_S,
    Producer,
    committed,
    hedger_settings,
    metric,
    records_now,
    running_exchange,
    running_hedger,
    wait_until,
)

COSTS = CostModel(half_spread=0.01, commission_per_order=1.0)


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


# Orders and cancels in the order they were sent: (order_id, side, qty, ts, ref_price) and
# ("cancel", order_id, ts, reason).
Orders = list[tuple[Any, ...]]
# Hedge fills: (fill_id, order_id, side, qty, price, ts).
Fills = list[tuple[Any, ...]]
# The P&L and each attribution term, summed over the books and underlyings.
Figures = dict[str, float]


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    orders: Orders
    fills: Fills
    figures: Figures


def _order(order: SubmitHedgeOrder | HedgeOrderRecorded) -> tuple[Any, ...]:
    return (order.order_id, order.side.value, order.qty, order.ts_ns, order.ref_price)


def _fill(fill: FillReport) -> tuple[Any, ...]:
    return (fill.fill_id, fill.order_id, fill.side.value, fill.qty, fill.price, fill.ts_ns)


def backtest(path: Path, settings: Settings, costs: CostModel = COSTS) -> Outcome:
    engine = settings.engine_config()
    config = BacktestConfig(engine, costs, sample_interval_ns=round(settings.pnl_interval_s * 1e9))
    result = run_path(recorded_events([path]), configured_strategy(engine.policy), config)
    sent = [
        ("cancel", a.order_id, a.ts_ns, a.reason) if isinstance(a, CancelHedgeOrder) else _order(a)
        for a in result.sent
    ]
    return Outcome(sent, [_fill(f) for f in result.hedge_fills], backtest_figures(result))


def backtest_figures(result: PathResult) -> Figures:
    return {"pnl": result.final_pnl, **result.attribution}


async def live_figures(settings: Settings) -> Figures:
    figures = {"pnl": await metric(settings, "hedger_pnl")}
    for term in ATTRIBUTION_TERMS:
        figures[term] = await metric(settings, "hedger_pnl_attribution", term=term)
    assert None not in figures.values(), figures
    return figures  # type: ignore[return-value]


async def live_run(lines: list[bytes], settings: Settings, costs: CostModel = COSTS) -> Outcome:
    bootstrap = settings.require_bootstrap()
    messages = [orjson.loads(line) for line in lines]
    following = [*messages[1:], None]
    async with (
        running_hedger(settings) as service,
        # Its event time moved on by prices and by `advance_to` only: it would wait longer
        # than any test for a feed that stands still.
        running_exchange(settings, costs, mark_wait_ms=round(10 * DEADLINE_S * 1e3)) as exchange,
        Producer(bootstrap) as feed,
    ):
        fills_ahead = FillsAhead(settings, costs)
        for line, message, after in zip(lines, messages, following, strict=True):
            if message["type"] == "fill":
                await feed.send(settings.fills_topic, line, message["book"])
            else:
                await feed.send(settings.prices_topic, line, message["symbol"])
            await wait_until(functools.partial(settled, service, exchange, fills_ahead, after))
        figures = await live_figures(settings)
    sent: Orders = []
    for record in await records_now(bootstrap, settings.orders_topic):
        event = decode_order_event(record.value or b"")
        if isinstance(event, HedgeOrderRecorded):
            sent.append(_order(event))
        else:
            sent.append(("cancel", event.order_id, event.ts_ns, event.reason))
    on_topic = [
        decode_fill(r.value or b"") for r in await records_now(bootstrap, settings.fills_topic)
    ]
    # The exchange's fills: the recorded client trades carry no order id.
    fills = [_fill(fill) for fill in on_topic if fill.order_id is not None]
    return Outcome(sent, fills, figures)


class FillsAhead:
    """The fills the exchange plans and has yet to make for the hedger's working orders
    (share and option orders), from the orders on the order topic and the cost model."""

    def __init__(self, settings: Settings, costs: CostModel) -> None:
        self._settings = settings
        self._costs = costs
        self._orders: dict[str, HedgeOrderRecorded] = {}

    async def earliest_ns(self, service: HedgerService) -> int | None:
        engine = service.engine
        remaining = {order_id: o.remaining for order_id, o in engine.working_orders().items()}
        remaining.update((i, o.remaining) for i, o in engine.option_hedger.working.items())
        if remaining.keys() - self._orders.keys():
            topic = self._settings.orders_topic
            for record in await records_now(self._settings.require_bootstrap(), topic):
                event = decode_order_event(record.value or b"")
                if isinstance(event, HedgeOrderRecorded):
                    self._orders[event.order_id] = event
        return min(
            (self._next_ns(self._orders[i], abs(left)) for i, left in remaining.items()),
            default=None,
        )

    def _next_ns(self, order: HedgeOrderRecorded, remaining: float) -> int:
        """The time of the first planned fill of `order` the hedger has not had."""
        planned = plan_fills(order, self._costs)
        had = order.qty - remaining
        total = 0.0
        for fill in planned:
            total += fill.qty
            if total > had + 1e-9:
                return fill.ts_ns
        return planned[-1].ts_ns


async def settled(
    service: HedgerService,
    exchange: PaperExchange,
    fills_ahead: FillsAhead,
    after: dict[str, Any] | None,
) -> bool:
    """Every record on both input topics (the exchange's fills included) is committed by
    the hedger, and no fill is still to come for a working order at or before the time of
    the next record (`after`; None: the feed has ended). When one is, the exchange is told
    the feed has reached the earliest, once the hedger's answers to the last input are
    committed, so it reads them (cancels) before filling."""
    settings = service.settings
    if not await inputs_committed(settings):
        return False
    due_ns = await fills_ahead.earliest_ns(service)
    before_ns = math.inf if after is None else after["ts"]
    if due_ns is None or due_ns > before_ns:
        return True
    if due_ns == before_ns and after is not None and after["type"] == "tick":
        # The backtest prices such a fill at that tick and hands the fill over first: the
        # exchange cannot see a tick the hedger has not been sent.
        raise AssertionError(f"a fill due at the very time of the next tick: {after}")
    if await inputs_committed(settings):
        exchange.advance_to(due_ns)
    return False


async def inputs_committed(settings: Settings) -> bool:
    bootstrap = settings.require_bootstrap()
    prices_group = f"{settings.group_id}.prices.{settings.instance_id}"
    for group, topic in (
        (settings.group_id, settings.fills_topic),
        (prices_group, settings.prices_topic),
    ):
        end = sum((await highwaters(bootstrap, topic)).values())
        if await committed(bootstrap, group, topic) < end:
            return False
    return True


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
    events: list[Event], settings: Settings, tmp_path: Path, costs: CostModel = COSTS
) -> Outcome:
    """The backtest's orders, fills and figures for `events`, once the live service's were
    found equal to them."""
    path = tmp_path / "session.jsonl"
    write_recording(events, path)
    expected = backtest(path, settings, costs)
    live = await live_run(path.read_bytes().splitlines(), settings, costs)
    assert live.orders == expected.orders, first_difference("orders", live.orders, expected.orders)
    assert live.fills == expected.fills, first_difference("fills", live.fills, expected.fills)
    assert live.figures == pytest.approx(expected.figures, rel=1e-9, abs=1e-6), (
        live.figures,
        expected.figures,
    )
    return expected


def first_difference(what: str, live: list[Any], backtest: list[Any]) -> str:
    """Where two lists part (this module's asserts are not rewritten by pytest)."""
    at = next(
        (i for i, pair in enumerate(zip(live, backtest, strict=False)) if pair[0] != pair[1]),
        min(len(live), len(backtest)),
    )
    return (
        f"{what}: {len(live)} live, {len(backtest)} in the backtest; first difference at"
        f" {at}: live {live[at : at + 1]}, backtest {backtest[at : at + 1]}"
    )


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
