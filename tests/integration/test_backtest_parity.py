"""Backtest-live parity: recordings through `hedger backtest` and through the live service.

Parity means: the same JSONL recording gives the same hedge orders, in the same order, with
identical order ids, sides and quantities (and order times and reference prices), and the
same mark-to-model P&L and attribution (the backtest's final figures; the live service's
`hedger_pnl` and `hedger_pnl_attribution` metrics, scraped), when it is

* run by the backtest (`recorded_events` + `run_path`, the configured policies, the paper
  exchange's cost model in process, no Kafka), and
* replayed into `hedger run`'s service on the real broker with the paper exchange filling
  its orders through Kafka (`tests.integration.parity`).

Over: a band policy; timed policies on two books with client trades into both at the same
instant; Whalley–Wilmott bands with Leland's vol; gamma/vega hedging with listed options;
a vol surface; American and futures underlyings; calls and puts through their expiry
instant, settled physically or in cash; working-order timeouts cancelling the rest of
partially filled orders, and orders whose latency outlasts the timeout. The cancels are
compared with the orders, and the hedge fills too: the live paper exchange must stop
the fills a cancel stops in the backtest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hedger.core.events import Event, FillReport, HedgeOrderRecorded, Side, VolUpdate
from hedger.core.instruments import expiry_instant_ns
from producers.execution import CostModel, plan_fills
from tests.backtest import scenario as sc
from tests.integration.parity import (
    Outcome,
    parity_settings,
    recorded_session,
    replayed_both_ways,
    timed_session,
)

pytestmark = pytest.mark.broker

# One per kind of `[books.mm-1]` policy the scenarios run, written to the policy file.
WHALLEY_WILMOTT_LELAND = """
[default]
band = "whalley_wilmott"
cost_fraction = 0.0005
risk_aversion = 1.0
hedge_to = "edge"
leland_cost = 0.001
leland_interval_s = 60
"""
GAMMA_VEGA = """
[default]
band_shares = 100
[books.mm-1.gamma_vega.XYZ]
options = ["XYZ   270115C00105000", "XYZ   270115P00095000"]
gamma_range = [-40, 40]
vega_range = [-500, 500]
half_spread = 0.05
commission_per_contract = 0.65
every_s = 60
"""


def surface_session() -> list[Event]:
    """The band scenario with a surface: a skew on the trades' expiry, moved after 30 min."""
    points = [(90.0, 0.31), (100.0, 0.26), (110.0, 0.23)]
    surface = [VolUpdate("XYZ", sc.T0, vol, sc.CALL.expiry, strike) for strike, vol in points]
    later = VolUpdate("XYZ", sc.T0 + 1801 * sc.SECOND, 0.29, sc.CALL.expiry, 100.0)
    events = recorded_session()
    return [*surface, *events[:33], later, *events[33:]]


def expiry_session() -> list[Event]:
    """Calls and puts on XYZ expiring at the close of the scenario's first day, bought 20
    minutes before, ticks a minute apart through the expiry instant (one stamped at it,
    the call in the money, the put out), and ten minutes after. (An expiry in the past:
    the live service refuses event times far ahead of its clock.)"""
    call = dataclasses.replace(sc.CALL, expiry=dt.date(2026, 11, 20))
    put = dataclasses.replace(call, is_call=False)
    expiry_ns = expiry_instant_ns(call.expiry, dt.time(16, 0), ZoneInfo("America/New_York"))
    start_s = (expiry_ns - sc.T0) // sc.SECOND - 20 * 60
    moves = np.random.default_rng(24).choice([-0.1, 0.15], size=30)
    spots = (100.0 + np.cumsum(moves)).round(2).tolist()
    ticks = [sc.tick(start_s + 60 * (i + 1), spot) for i, spot in enumerate(spots)]
    assert ticks[19].ts_ns == expiry_ns
    assert spots[19] > call.strike
    opened = sc.T0 + start_s * sc.SECOND + sc.SECOND
    calls = FillReport("C-1", "mm-1", call.occ_symbol, Side.BUY, 40, 0.45, opened)
    puts = FillReport("P-1", "mm-1", put.occ_symbol, Side.BUY, 20, 0.35, opened)
    return [sc.vol(start_s), sc.tick(start_s, 100.0), calls, puts, *ticks]


SCENARIOS: dict[str, tuple[object, dict[str, object]]] = {
    "band": (recorded_session, {"band_shares": 150.0}),
    "whalley_wilmott_leland": (recorded_session, {"policy": WHALLEY_WILMOTT_LELAND}),
    "gamma_vega": (timed_session, {"policy": GAMMA_VEGA}),
    "vol_surface": (surface_session, {"band_shares": 150.0}),
    "american": (
        recorded_session,
        {"band_shares": 150.0, "american_underlyings": frozenset({"XYZ"}), "dividend_yield": 0.03},
    ),
    "expiry_physical": (expiry_session, {"band_shares": 150.0}),
    "expiry_cash_settled": (
        expiry_session,
        {"band_shares": 150.0, "cash_settled_underlyings": frozenset({"XYZ"})},
    ),
    "futures": (
        recorded_session,
        {"band_shares": 150.0, "futures_underlyings": frozenset({"XYZ"})},
    ),
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_backtest_and_live_service_send_identical_orders_and_report_the_same_pnl(
    scenario: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    session, overrides = SCENARIOS[scenario]
    overrides = dict(overrides)
    policy = overrides.pop("policy", None)
    if policy is not None:
        (tmp_path / "policies.toml").write_text(str(policy))
        overrides["policy_file"] = str(tmp_path / "policies.toml")
    settings = await parity_settings(kafka_bootstrap, topic_prefix, **overrides)
    outcome = await replayed_both_ways(session(), settings, tmp_path)  # type: ignore[operator]
    assert len(outcome.orders) >= 5  # the scenario really hedges
    # Every term but vega (the flat vol stays put) is really exercised: the book moved,
    # aged, was financed, paid costs and had an edge.
    assert all(outcome.figures[term] != 0.0 for term in outcome.figures if term != "vega")


async def test_a_timed_policy_and_same_time_trades_give_identical_orders_and_pnl(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """Timers fire at the same event times in both (before the input that crosses a grid
    point; `hedger.core.clock`), and two client trades stamped alike are taken in the
    same order."""
    policies = tmp_path / "policies.toml"
    policies.write_text(
        "[default]\nband_shares = 0\nrebalance_every_s = 60\n"
        "[books.mm-2]\nband_shares = 0\nrebalance_every_s = 90\n"
    )
    settings = await parity_settings(
        kafka_bootstrap, topic_prefix, policy_file=str(policies), pnl_interval_s=30.0
    )
    outcome = await replayed_both_ways(timed_session(), settings, tmp_path)
    assert len(outcome.orders) >= 12  # both books rebalance on their own timers
    assert all(abs(amount) > 0.1 for amount in outcome.figures.values())


# Up to three slices, 2.345 s after the order and then 24.68 s apart: odd times, so that no
# fill falls on the time of a recorded input (the backtest would price it at a tick the
# live exchange has not yet been sent).
SLICED = CostModel(
    half_spread=0.01,
    commission_per_order=1.0,
    latency_ms=2_345,
    max_slices=3,
    slice_interval_ms=24_680,
    seed=5,
)
# Filled whole 23.45 s after the order: after a 20 s working-order timeout.
LATE = CostModel(half_spread=0.01, commission_per_order=1.0, latency_ms=23_450)


def ten_second_session() -> list[Event]:
    """Ticks every 10 s for 14 minutes, standing still for the last two; client trades of
    calls at 1 s and at 301 s."""
    moves = np.random.default_rng(31).choice([-0.25, 0.25], size=72)
    spots = (100.0 + np.cumsum(moves)).round(2).tolist()
    spots += [spots[-1]] * 12
    ticks = [sc.tick(10 * (i + 1), spot) for i, spot in enumerate(spots)]
    first = sc.client_buys_calls(1, 40, round(sc.call_value(1, 100.0), 2), "C-1")
    second = sc.client_buys_calls(301, 25, round(sc.call_value(301, spots[29]), 2), "C-2")
    return [sc.vol(0), sc.tick(0, 100.0), first, *ticks[:30], second, *ticks[30:]]


def cancelled_orders(outcome: Outcome, costs: CostModel) -> list[tuple[int, int]]:
    """Per cancelled order: how many fills it had, and how many it had planned."""
    cancelled = {entry[1] for entry in outcome.orders if entry[0] == "cancel"}
    had = Counter(fill[1] for fill in outcome.fills)
    counts = []
    for order_id, side, qty, ts_ns, ref_price in (o for o in outcome.orders if o[0] != "cancel"):
        if order_id in cancelled:
            order = HedgeOrderRecorded(order_id, "mm-1", "XYZ", Side(side), qty, ts_ns, ref_price)
            counts.append((had[order_id], len(plan_fills(order, costs))))
    return counts


async def test_working_order_timeouts_stop_the_same_slices_live_as_in_the_backtest(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """A 20 s working-order timeout and partial fills: an order sent on a tick is timed out
    by the tick 20 s later, before its second slice, which neither tier fills; the client
    trades' orders (at 1 s and 301 s) are timed out by the timer their second slice fires
    (27.025 s on), so that slice is filled and only a third is stopped."""
    settings = await parity_settings(
        kafka_bootstrap, topic_prefix, band_shares=150.0, working_order_timeout_s=20.0
    )
    outcome = await replayed_both_ways(ten_second_session(), settings, tmp_path, SLICED)

    cancelled = cancelled_orders(outcome, SLICED)
    assert all(entry[3] == "timeout" for entry in outcome.orders if entry[0] == "cancel")
    # Cancels stopped slices their orders had planned, after the first.
    assert sum(0 < had < planned for had, planned in cancelled) >= 5
    # The first client trade's order kept the slice whose timer timed it out: its last.
    assert any(had == planned for had, planned in cancelled)
    assert all(outcome.figures[term] != 0.0 for term in outcome.figures if term != "vega")


async def test_a_latency_past_the_working_order_timeout_cancels_alike_live_and_backtest(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    """Orders fill 23.45 s after they are sent, the timeout cancels them after 20 s: those
    sent on a tick are cancelled by the tick 20 s later and never filled; the client
    trades' (at 1 s and 301 s), off the ticks' grid, are timed out by the timer of their
    own fill, and so filled. The third timeout without a fill latches the book
    (HEDGER_TIMEOUT_LATCH): no order after that, in either tier."""
    settings = await parity_settings(
        kafka_bootstrap, topic_prefix, band_shares=150.0, working_order_timeout_s=20.0
    )
    outcome = await replayed_both_ways(ten_second_session(), settings, tmp_path, LATE)

    fills_of_cancelled = [had for had, _planned in cancelled_orders(outcome, LATE)]
    assert fills_of_cancelled.count(0) >= 2
    assert fills_of_cancelled.count(1) >= 1
