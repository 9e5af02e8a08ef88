"""Hedging effectiveness through the whole backtest (the engine with its P&L, the exchange)
on GBM paths.

Theory (Black-Scholes, Kamal & Derman 1999): delta hedging at N evenly spaced times leaves
an error whose standard deviation shrinks like 1/√N, so daily rebalancing removes most of
the variance of an unhedged option position, and rebalancing four times as often halves
what is left.
"""

from __future__ import annotations

import math

import pytest

from hedger.backtest.compare import Comparison, compare
from hedger.backtest.runner import BacktestConfig
from hedger.backtest.strategies import NO_HEDGE, parse_policy
from hedger.core.engine import EngineConfig
from hedger.core.policy import BandPolicy
from producers.models import GeometricBrownianMotion
from producers.simulate import Preset, Session, simulate_session

PATHS = 100
HOURS = 3600 * 10**9
GBM = Preset(GeometricBrownianMotion(drift=0.0, vol=0.2))
# 20 days, before the nearest expiry; one client trade at the start; a tick every 3 hours.
SESSION = Session(
    days=20, tick_seconds=3 * 3600, trades=1, trades_at="start", vol_interval_s=20 * 86400
)


@pytest.fixture(scope="module")
def comparison() -> Comparison:
    engine = EngineConfig(policy=BandPolicy(band_shares=0.0), default_vol=0.2)
    config = BacktestConfig(engine, sample_interval_ns=3 * HOURS)
    # Band 0 hedges at inception (the client trade) and then on the first tick once the
    # interval has passed: with a tick every 3 hours, 23h and 5h give orders exactly a day
    # and six hours apart.
    strategies = [
        NO_HEDGE,
        parse_policy("band=0,interval=23h,name=daily", engine.policy),
        parse_policy("band=0,interval=5h,name=6-hourly", engine.policy),
    ]
    paths = (simulate_session(GBM, SESSION, seed=11, path=path) for path in range(PATHS))
    return compare(paths, strategies, config)


def test_daily_delta_hedging_removes_over_ninety_percent_of_pnl_variance(
    comparison: Comparison,
) -> None:
    summaries = {s.strategy: s for s in comparison.summaries()}
    assert summaries["no hedge"].basis == "paths"
    daily = summaries["daily"]
    assert daily.effectiveness is not None
    assert daily.effectiveness > 0.90
    assert daily.trades == pytest.approx(20, abs=1)  # inception, then one a day


def test_hedging_error_shrinks_roughly_like_one_over_root_of_rebalances(
    comparison: Comparison,
) -> None:
    summaries = {s.strategy: s for s in comparison.summaries()}
    ratio = summaries["daily"].pnl_std / summaries["6-hourly"].pnl_std
    # Four times the rebalances: √4 = 2 in theory; 100 paths leave sampling noise.
    assert ratio == pytest.approx(math.sqrt(4), rel=0.3)
