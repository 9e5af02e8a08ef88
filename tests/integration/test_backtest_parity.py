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
instant, settled physically or in cash.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hedger.core.events import Event, FillReport, Side, VolUpdate
from hedger.core.instruments import expiry_instant_ns
from tests.backtest import scenario as sc
from tests.integration.parity import (
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
    orders, figures = await replayed_both_ways(session(), settings, tmp_path)  # type: ignore[operator]
    assert len(orders) >= 5  # the scenario really hedges
    # Every term but vega (the flat vol stays put) is really exercised: the book moved,
    # aged, was financed, paid costs and had an edge.
    assert all(figures[term] != 0.0 for term in figures if term != "vega")


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
    orders, figures = await replayed_both_ways(timed_session(), settings, tmp_path)
    assert len(orders) >= 12  # both books rebalance on their own timers
    assert all(abs(amount) > 0.1 for amount in figures.values())
