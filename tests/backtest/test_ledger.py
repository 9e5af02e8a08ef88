"""The backtest's accounting: values against QuantLib, costs, financing and attribution."""

from __future__ import annotations

import dataclasses
import math

import pytest

from hedger.backtest.ledger import ATTRIBUTION_TERMS, Ledger
from hedger.core.engine import HedgeEngine
from hedger.core.events import FillReport, RecoveryCompleted, Side
from hedger.core.policy import BandPolicy
from tests.backtest import scenario as sc

UNITS = 50 * 100.0  # 50 contracts of 100 shares
NEVER = BandPolicy(band_shares=math.inf)  # an engine that only keeps the book


def ledger_holding_calls(rate: float = sc.RATE) -> tuple[Ledger, float]:
    ledger = Ledger(dataclasses.replace(sc.engine_config(), rate=rate))
    ledger.on_tick(sc.tick(0, 100.0))
    ledger.on_vol(sc.vol(0))
    ledger.value(sc.T0)
    price = round(sc.call_value(0, 100.0), 2)
    ledger.on_option_trade(sc.client_buys_calls(0, 50, price), sc.CALL)
    return ledger, price


def test_ledger_options_marked_at_black_scholes_like_quantlib() -> None:
    ledger, price = ledger_holding_calls()
    ledger.on_tick(sc.tick(3600, 101.5))
    sample = ledger.value(sc.T0 + 3600 * sc.SECOND)
    expected = UNITS * (sc.call_value(3600, 101.5) - price)
    # Cash earned an hour of interest at 3%: part of the P&L too.
    interest = -UNITS * price * math.expm1(sc.RATE * 3600 / (365 * 86400))
    assert sample.pnl == pytest.approx(expected + interest, rel=1e-9)
    assert sample.net_delta == pytest.approx(UNITS * sc.call_delta(3600, 101.5), rel=1e-9)


def test_ledger_hedge_fill_costs_and_slippage_against_arrival_mark() -> None:
    ledger = Ledger(dataclasses.replace(sc.engine_config(), rate=0.0))
    ledger.on_tick(sc.tick(0, 100.0))
    ledger.value(sc.T0)
    fill = FillReport("PX-H-1", "mm-1", "XYZ", Side.BUY, 200, 100.05, sc.T0, "H-1", fee=1.0)
    ledger.on_share_trade(fill, ref_price=99.98)
    ledger.on_tick(sc.tick(60, 101.0))
    ledger.finish(sc.T0 + 60 * sc.SECOND)
    assert ledger.fees == 1.0
    assert ledger.slippage == pytest.approx(200 * (100.05 - 99.98))
    assert ledger.attribution["costs"] == pytest.approx(-(200 * 0.05 + 1.0))
    assert ledger.attribution["delta"] == pytest.approx(200 * 1.0)  # 200 shares × +1.00
    assert ledger.samples[-1].pnl == pytest.approx(200 * (101.0 - 100.05) - 1.0)
    assert ledger.attribution["residual"] == pytest.approx(0.0, abs=1e-9)


def test_ledger_sell_fill_slippage_positive_when_received_below_arrival() -> None:
    ledger = Ledger(sc.engine_config())
    ledger.on_tick(sc.tick(0, 100.0))
    fill = FillReport("PX-H-2", "mm-1", "XYZ", Side.SELL, 100, 99.9, sc.T0, "H-2")
    ledger.on_share_trade(fill, ref_price=100.0)
    assert ledger.slippage == pytest.approx(10.0)


def test_ledger_cash_earns_the_rate_continuously_compounded() -> None:
    ledger = Ledger(dataclasses.replace(sc.engine_config(), rate=0.05))
    ledger.on_tick(sc.tick(0, 100.0))
    ledger.value(sc.T0)
    ledger.on_share_trade(FillReport("F", "mm-1", "XYZ", Side.BUY, 100, 100.0, sc.T0))
    year = 365 * 86400
    ledger.value(sc.T0 + year * sc.SECOND)
    assert ledger.attribution["financing"] == pytest.approx(-10_000 * math.expm1(0.05))


def test_ledger_attribution_explains_a_small_move_with_greeks() -> None:
    ledger, _ = ledger_holding_calls(rate=0.0)
    ledger.value(sc.T0, record=False)
    before = ledger.value(sc.T0 + 1).pnl
    ledger.on_tick(sc.tick(600, 100.3))
    ledger.on_vol(sc.vol(600, sc.VOL + 0.002))
    ledger.finish(sc.T0 + 600 * sc.SECOND)
    move = ledger.samples[-1].pnl - before
    explained = sum(ledger.attribution[t] for t in ("delta", "gamma", "theta", "vega"))
    # Cross and third-order terms are tiny for a 0.3% move and 0.2 vol points.
    assert explained == pytest.approx(move, rel=2e-3)
    assert set(ledger.attribution) == set(ATTRIBUTION_TERMS)


def test_ledger_client_trade_edge_over_model_value_lands_in_residual() -> None:
    ledger = Ledger(sc.engine_config())
    ledger.on_tick(sc.tick(0, 100.0))
    ledger.value(sc.T0)
    value = sc.call_value(0, 100.0)
    ledger.on_option_trade(sc.client_buys_calls(0, 10, value - 0.10), sc.CALL)
    ledger.finish(sc.T0)
    assert ledger.samples[-1].pnl == pytest.approx(1000 * 0.10, rel=1e-6)
    assert ledger.attribution["residual"] == pytest.approx(100.0, rel=1e-6)


def test_ledger_surface_vol_point_does_not_change_the_flat_vol() -> None:
    ledger, _ = ledger_holding_calls()
    flat = ledger.value(sc.T0 + 1).pnl
    surface = dataclasses.replace(sc.vol(0, 0.9), strike=100.0)
    ledger.on_vol(surface)
    assert ledger.value(sc.T0 + 1).pnl == pytest.approx(flat)


def test_ledger_option_hedge_fill_counts_fee_and_slippage_in_contract_units() -> None:
    ledger = Ledger(sc.engine_config())
    ledger.on_tick(sc.tick(0, 100.0))
    fill = FillReport(
        "PX-H-7", "mm-1", sc.CALL.occ_symbol, Side.SELL, 3, 4.90, sc.T0, "H-7", fee=2.0
    )
    ledger.on_option_trade(fill, sc.CALL, ref_price=5.00)
    # Sold 3 contracts of 100 at 4.90 against 5.00: 0.10 × 300 = 30 of slippage.
    assert ledger.slippage == pytest.approx(30.0)
    assert ledger.fees == 2.0
    assert ledger.attribution["costs"] == pytest.approx(-2.0)
    assert ledger.cash == pytest.approx(300 * 4.90 - 2.0)


def test_ledger_settles_at_expiry_physically_as_the_engine_does() -> None:
    """At the expiry close the bought put (in the money) becomes 5,000 shares sold at the
    strike and the bought call (out of the money) lapses; the value does not jump, and
    afterwards the shares carry the P&L. Checked with the engine's own book."""
    config = dataclasses.replace(sc.engine_config(), rate=0.0)
    ledger, engine = Ledger(config), HedgeEngine(dataclasses.replace(config, policy=NEVER))
    put = dataclasses.replace(sc.CALL, is_call=False)
    expiry_s = (sc.EXPIRY_NS - sc.T0) / sc.SECOND
    trades = [
        FillReport("P", "mm-1", put.occ_symbol, Side.BUY, 50, 5.0, sc.T0 + sc.SECOND),
        FillReport("C", "mm-1", sc.CALL.occ_symbol, Side.BUY, 50, 2.0, sc.T0 + sc.SECOND),
    ]
    engine.handle(RecoveryCompleted(sc.T0))
    ledger.on_tick(opening := sc.tick(0, 100.0))
    engine.handle(opening)
    for trade, contract in zip(trades, (put, sc.CALL), strict=True):
        ledger.on_option_trade(trade, contract)
        engine.handle(trade)
    cash_paid = UNITS * (5.0 + 2.0)
    ledger.on_tick(expiry_close := sc.tick(expiry_s, 92.0))
    engine.handle(expiry_close)
    # At the expiry close: the put's intrinsic value, now in shares and cash.
    assert ledger.value(sc.EXPIRY_NS).pnl == pytest.approx(UNITS * (100.0 - 92.0) - cash_paid)
    ledger.on_tick(next_day := sc.tick(expiry_s + 86_400, 110.0))
    engine.handle(next_day)
    after = ledger.value(sc.EXPIRY_NS + 86_400 * sc.SECOND)
    # −5,000 shares sold at 100, now at 110; the call lapsed (at 110 it would be worth 10).
    assert after.pnl == pytest.approx(-UNITS * 110.0 + UNITS * 100.0 - cash_paid)
    assert after.net_delta == -UNITS
    (exposure,) = engine.exposures()
    assert exposure.shares == -UNITS
