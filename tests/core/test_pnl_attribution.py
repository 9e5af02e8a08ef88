"""The engine's mark-to-model P&L and its attribution (`hedger.core.pnl_attribution`):
values against QuantLib for every model the engine prices with, costs, financing, the
attribution's terms, and physical settlement at expiry."""

from __future__ import annotations

import dataclasses
import math
from itertools import pairwise

import pytest

from hedger.backtest.runner import BacktestConfig, PathRun
from hedger.backtest.strategies import Strategy
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    FillReport,
    HedgeOrderRecorded,
    RecoveryCompleted,
    Side,
)
from hedger.core.instruments import year_fraction
from hedger.core.pnl_attribution import ATTRIBUTION_TERMS
from hedger.core.policy import BandPolicy
from tests.backtest import quantlib_reference
from tests.backtest import scenario as sc

ql = pytest.importorskip("QuantLib")

UNITS = 50 * 100.0  # 50 contracts of 100 shares
NEVER = BandPolicy(band_shares=math.inf)  # an engine that only keeps the book


def keeping_engine(**config: object) -> HedgeEngine:
    engine = HedgeEngine(dataclasses.replace(sc.engine_config(), policy=NEVER, **config))  # type: ignore[arg-type]
    engine.handle(RecoveryCompleted(sc.T0))
    return engine


def holding_calls(**config: object) -> tuple[HedgeEngine, float]:
    """An engine whose book mm-1 bought 50 calls at their value at T0, spot 100."""
    engine = keeping_engine(**config)
    engine.handle(sc.tick(0, 100.0))
    engine.handle(sc.vol(0))
    price = round(sc.call_value(0, 100.0), 2)
    engine.handle(sc.client_buys_calls(0, 50, price))
    return engine, price


def test_options_marked_at_black_scholes_like_quantlib() -> None:
    engine, price = holding_calls()
    engine.handle(sc.tick(3600, 101.5))
    total = engine.pnl.total()
    expected = UNITS * (sc.call_value(3600, 101.5) - price)
    # Cash earned an hour of interest at 3%: part of the P&L too.
    interest = -UNITS * price * math.expm1(sc.RATE * 3600 / (365 * 86400))
    assert total.pnl == pytest.approx(expected + interest, rel=1e-9)
    assert total.net_delta == pytest.approx(UNITS * sc.call_delta(3600, 101.5), rel=1e-9)


def quantlib_american_call(spot: float, second: float) -> float:
    today = ql.Date(20, ql.November, 2026)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    years = year_fraction(sc.T0 + round(second * sc.SECOND), sc.EXPIRY_NS)
    # Time in QuantLib is whole days; the rate and vol are scaled so that the option over
    # its whole-day life is the one over our fractional years.
    days = 28
    scale = years * 365 / days
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.04 * scale, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, sc.RATE * scale, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), sc.VOL * math.sqrt(scale), day_count)
        ),
    )
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(ql.Option.Call, sc.CALL.strike),
        ql.AmericanExercise(today, today + days),
    )
    option.setPricingEngine(ql.QdFpAmericanEngine(process, ql.QdFpAmericanEngine.accurateScheme()))
    return float(option.NPV())


def test_american_underlying_is_valued_by_the_engines_american_model() -> None:
    """One valuation: with XYZ configured American (and a 4% dividend yield, so early
    exercise is worth something), the P&L is QuantLib's American value, not a European."""
    engine, price = holding_calls(
        american_underlyings=frozenset({"XYZ"}), dividend_yield=0.04, rate=sc.RATE
    )
    engine.handle(sc.tick(3600, 101.5))
    total = engine.pnl.total()
    cash = -UNITS * price
    years = 3600 / (365 * 86400)
    financing = cash * math.expm1(sc.RATE * years)
    american = quantlib_american_call(101.5, 3600)
    assert total.pnl == pytest.approx(UNITS * american + cash + financing, rel=2e-3)
    european = quantlib_reference.price(
        101.5,
        100.0,
        year_fraction(sc.T0 + 3600 * sc.SECOND, sc.EXPIRY_NS),
        sc.VOL,
        sc.RATE,
        0.04,
        True,
    )
    assert american > european  # so the check above tells the two models apart


def test_futures_underlying_is_valued_at_black_76() -> None:
    engine, price = holding_calls(futures_underlyings=frozenset({"XYZ"}))
    engine.handle(sc.tick(3600, 101.5))
    years = year_fraction(sc.T0 + 3600 * sc.SECOND, sc.EXPIRY_NS)
    # Black-76 is Black-Scholes-Merton with the dividend yield equal to the rate.
    black_76 = quantlib_reference.price(101.5, 100.0, years, sc.VOL, sc.RATE, sc.RATE, True)
    interest = -UNITS * price * math.expm1(sc.RATE * 3600 / (365 * 86400))
    assert engine.pnl.total().pnl == pytest.approx(UNITS * (black_76 - price) + interest, rel=1e-9)


def test_day_count_of_the_engine_sets_time_to_expiry() -> None:
    engine, price = holding_calls(days_per_year=360.0, rate=0.0)
    engine.handle(sc.tick(3600, 101.5))
    days = (sc.EXPIRY_NS - sc.T0 - 3600 * sc.SECOND) / (86_400 * sc.SECOND)
    value = quantlib_reference.price(101.5, 100.0, days / 360.0, sc.VOL, 0.0, 0.0, True)
    assert engine.pnl.total().pnl == pytest.approx(UNITS * (value - price), rel=1e-9)


def test_hedge_fill_costs_against_the_mark_and_slippage_against_arrival() -> None:
    engine = keeping_engine(rate=0.0)
    engine.handle(sc.tick(0, 100.0))
    engine.handle(HedgeOrderRecorded("H-1", "mm-1", "XYZ", Side.BUY, 200, sc.T0, 99.98))
    engine.handle(FillReport("PX-H-1", "mm-1", "XYZ", Side.BUY, 200, 100.05, sc.T0, "H-1", fee=1.0))
    engine.handle(sc.tick(60, 101.0))
    (held,) = engine.pnl.now().values()
    (exposure,) = engine.exposures()
    assert exposure.fees == 1.0
    assert exposure.slippage == pytest.approx(200 * (100.05 - 99.98))
    assert held.attribution["costs"] == pytest.approx(-(200 * 0.05 + 1.0))
    assert held.attribution["delta"] == pytest.approx(200 * 1.0)  # 200 shares × +1.00
    assert held.pnl == pytest.approx(200 * (101.0 - 100.05) - 1.0)
    assert held.attribution["residual"] == pytest.approx(0.0, abs=1e-9)


def test_cash_earns_the_rate_continuously_compounded() -> None:
    engine = keeping_engine(rate=0.05)
    engine.handle(sc.tick(0, 100.0))
    engine.handle(FillReport("F", "mm-1", "XYZ", Side.BUY, 100, 100.0, sc.T0))
    engine.handle(sc.tick(365 * 86400, 100.0))
    attribution = engine.pnl.attribution()
    assert attribution["financing"] == pytest.approx(-10_000 * math.expm1(0.05))
    assert engine.pnl.total().pnl == pytest.approx(attribution["financing"])


def test_attribution_explains_a_small_move_with_greeks() -> None:
    engine, _ = holding_calls(rate=0.0)
    before = engine.pnl.total().pnl
    engine.handle(sc.tick(600, 100.3))
    engine.handle(sc.vol(600, sc.VOL + 0.002))
    after = engine.pnl.total()
    attribution = engine.pnl.attribution()
    explained = sum(attribution[t] for t in ("delta", "gamma", "theta", "vega"))
    # Cross and third-order terms are tiny for a 0.3% move and 0.2 vol points.
    assert explained == pytest.approx(after.pnl - before, rel=2e-3)
    assert attribution["vega"] != 0.0
    assert attribution["theta"] < 0.0
    assert set(attribution) == set(ATTRIBUTION_TERMS)


def test_client_trade_edge_over_model_value_lands_in_residual() -> None:
    engine = keeping_engine()
    engine.handle(sc.tick(0, 100.0))
    value = sc.call_value(0, 100.0)
    engine.handle(sc.client_buys_calls(0, 10, value - 0.10))
    assert engine.pnl.total().pnl == pytest.approx(1000 * 0.10, rel=1e-6)
    assert engine.pnl.attribution()["residual"] == pytest.approx(100.0, rel=1e-6)


def test_reading_now_is_not_a_valuation() -> None:
    """The live service reads the P&L whenever it exports metrics: reading must not change
    what later valuations attribute, or live figures would depend on scrape times."""
    read, unread = holding_calls(rate=0.0)[0], holding_calls(rate=0.0)[0]
    for second, spot in ((60, 100.4), (400, 99.7), (700, 100.9)):
        read.pnl.now()
        for engine in (read, unread):
            engine.handle(sc.tick(second, spot))
    assert read.pnl.attribution() == unread.pnl.attribution()


def test_a_valuation_inside_a_run_of_steady_ticks_sees_the_ticks_before_it() -> None:
    """`handle_ticks` takes steady ticks in one pass; a valuation due inside the run must
    still value the book at the tick before the grid point, as one-by-one handling does."""
    ticks = [sc.tick(30 * i, 100.0 + 0.01 * i) for i in range(1, 40)]
    one_by_one, in_runs = holding_calls(rate=0.0)[0], holding_calls(rate=0.0)[0]
    for engine in (one_by_one, in_runs):
        engine.pnl.series = []
    for tick in ticks:
        one_by_one.handle(tick)
    index = 0
    while index < len(ticks):
        index, _ = in_runs.handle_ticks(ticks, index)
    assert in_runs.pnl.series == one_by_one.pnl.series
    assert len(one_by_one.pnl.series or []) >= 3


def test_settles_at_expiry_physically() -> None:
    """At the expiry close the bought put (in the money) becomes 5,000 shares sold at the
    strike and the bought call (out of the money) lapses; the value does not jump, and
    afterwards the shares carry the P&L."""
    engine = keeping_engine(rate=0.0)
    put = dataclasses.replace(sc.CALL, is_call=False)
    expiry_s = (sc.EXPIRY_NS - sc.T0) / sc.SECOND
    engine.handle(sc.tick(0, 100.0))
    engine.handle(FillReport("P", "mm-1", put.occ_symbol, Side.BUY, 50, 5.0, sc.T0 + sc.SECOND))
    engine.handle(FillReport("C", "mm-1", sc.CALL.occ_symbol, Side.BUY, 50, 2.0, sc.T0 + sc.SECOND))
    cash_paid = UNITS * (5.0 + 2.0)
    engine.handle(sc.tick(expiry_s, 92.0))
    # At the expiry close: the put's intrinsic value, now in shares and cash.
    assert engine.pnl.total().pnl == pytest.approx(UNITS * (100.0 - 92.0) - cash_paid)
    delta_at_expiry = engine.pnl.attribution()["delta"]
    engine.handle(sc.tick(expiry_s + 86_400, 110.0))
    after = engine.pnl.total()
    # −5,000 shares sold at 100, now at 110; the call lapsed (at 110 it would be worth 10).
    assert after.pnl == pytest.approx(-UNITS * 110.0 + UNITS * 100.0 - cash_paid)
    assert after.net_delta == -UNITS
    # The delivered shares carry the move from the expiry close: −5,000 × (110 − 92).
    moved = engine.pnl.attribution()["delta"] - delta_at_expiry
    assert moved == pytest.approx(-UNITS * 18.0)


@pytest.mark.parametrize("cash_settled", [False, True])
def test_settlement_splits_the_move_between_the_expiring_calls_and_the_shares_delivered(
    cash_settled: bool,
) -> None:
    """Each move while the calls live is explained by their delta (QuantLib's) at the tick
    before it, and each move after their expiry by the shares they became (none in cash),
    not by the calls' delta as well; the settlement adds to the residual only the time
    value the calls had left at the last mark before the expiry."""
    engine, _ = holding_calls(cash_settled_underlyings=frozenset({"XYZ"} if cash_settled else ()))
    expiry_s = (sc.EXPIRY_NS - sc.T0) // sc.SECOND
    lived = [(0, 100.0), (expiry_s - 2 * 86_400, 101.0), (expiry_s - 86_400, 100.5)]
    lived.append((expiry_s - 600, 102.0))  # the settlement mark: 5,000 calls 2.00 in the money
    for second, spot in lived[1:]:
        engine.handle(sc.tick(second, spot))
    crossing_s = expiry_s + 600
    before = engine.pnl.attribution(sc.T0 + crossing_s * sc.SECOND)

    engine.handle(sc.tick(crossing_s, 99.0))
    engine.handle(sc.tick(crossing_s + 600, 98.5))

    after = engine.pnl.attribution()
    calls = sum(
        UNITS * sc.call_delta(second, spot) * (next_spot - spot)
        for (second, spot), (_, next_spot) in pairwise(lived)
    )
    delivered = 0.0 if cash_settled else UNITS
    assert after["delta"] == pytest.approx(calls + delivered * (98.5 - 102.0), rel=1e-9)
    time_value = UNITS * (sc.call_value(expiry_s - 600, 102.0) - 2.0)
    assert after["residual"] - before["residual"] == pytest.approx(-time_value, abs=1e-4)


def test_backtest_counts_an_option_hedge_fills_slippage_in_contract_units() -> None:
    run = PathRun(Strategy("keep", "band", NEVER), BacktestConfig(sc.engine_config()))
    fill = FillReport(
        "PX-H-7", "mm-1", sc.CALL.occ_symbol, Side.SELL, 3, 4.90, sc.T0, "H-7", fee=2.0
    )
    # Sold 3 contracts of 100 at 4.90 against 5.00: 0.10 × 300 = 30 of slippage.
    assert run._slippage(fill, ref_price=5.00) == pytest.approx(30.0)


def test_the_valuation_grid_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        EngineConfig(policy=NEVER, pnl_interval_ns=0)
