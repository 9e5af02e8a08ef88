"""The engine's revaluation path: quotes and surface points, models per underlying, day
count, expiry settlement, the extra exposures and scenario grids — against QuantLib."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hedger.core.actions import InputRejected
from hedger.core.engine import EngineConfig, Exposure, HedgeEngine
from hedger.core.events import FillReport, OptionQuote, PriceTick, Side, VolUpdate
from hedger.core.instruments import NANOS_PER_YEAR, OptionContract, expiry_instant_ns
from hedger.core.policy import BandPolicy
from hedger.core.scenarios import Shocks
from tests.scenarios import market_maker as mm

ql = pytest.importorskip("QuantLib")

RATE = mm.RATE
T = mm.YEARS_TO_EXPIRY
UNITS = float(mm.CONTRACTS)  # multiplier 1
CONFIG = EngineConfig(policy=BandPolicy(band_shares=math.inf), rate=RATE, default_vol=0.2)


def engine_with_calls(config: EngineConfig = CONFIG, spot: float = 100.0) -> HedgeEngine:
    engine = HedgeEngine(config)
    engine.handle(mm.tick(spot, 0))
    engine.handle(dataclasses.replace(mm.client_buys_calls(), ts_ns=mm.START_NS))
    return engine


def exposure(engine: HedgeEngine, underlying: str = "XYZ") -> Exposure:
    (found,) = [e for e in engine.exposures() if e.underlying == underlying]
    return found


def black(
    spot: float, strike: float, time: float, vol: float, is_call: bool = True, dividend: float = 0.0
) -> object:
    option_type = ql.Option.Call if is_call else ql.Option.Put
    return ql.BlackCalculator(
        ql.PlainVanillaPayoff(option_type, strike),
        spot * math.exp((RATE - dividend) * time),
        vol * math.sqrt(time),
        math.exp(-RATE * time),
    )


def test_revaluation_quote_mid_implied_vol_prices_the_book() -> None:
    engine = engine_with_calls()
    target_vol = 0.35
    mid = black(100.0, mm.STRIKE, T, target_vol).value()  # type: ignore[attr-defined]
    quote = OptionQuote(mm.CALL.occ_symbol, mm.START_NS, mid - 0.05, mid + 0.05)

    assert engine.handle(quote) == []

    expected = black(100.0, mm.STRIKE, T, target_vol).delta(100.0) * UNITS  # type: ignore[attr-defined]
    assert exposure(engine).delta == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    ("bid", "ask", "reason"), [(0.5, 1.0, "below_intrinsic"), (150.0, 160.0, "above_upper_bound")]
)
def test_revaluation_quote_outside_arbitrage_bounds_is_refused_with_reason(
    bid: float, ask: float, reason: str
) -> None:
    engine = engine_with_calls()
    before = exposure(engine).delta

    actions = engine.handle(OptionQuote(mm.CALL.occ_symbol, mm.START_NS, bid, ask))

    assert [type(a) for a in actions] == [InputRejected]
    assert actions[0].kind == reason  # type: ignore[union-attr]
    assert exposure(engine).delta == before


def test_revaluation_quote_before_any_tick_is_refused() -> None:
    engine = HedgeEngine(CONFIG)

    actions = engine.handle(OptionQuote(mm.CALL.occ_symbol, mm.START_NS, 5.0, 5.2))

    assert actions == [InputRejected("no_underlying_price", "no tick for XYZ yet")]


def test_revaluation_surface_point_on_the_option_expiry_sets_its_vol() -> None:
    engine = engine_with_calls()
    # A smile on the option's expiry: 0.30 at 90, 0.40 at 110; the 98 strike reads 0.34.
    for strike, vol in ((90.0, 0.30), (110.0, 0.40)):
        engine.handle(VolUpdate("XYZ", mm.START_NS + 1, vol, mm.EXPIRY, strike))

    expected = black(100.0, mm.STRIKE, T, 0.34).delta(100.0) * UNITS  # type: ignore[attr-defined]
    assert exposure(engine).delta == pytest.approx(expected, rel=1e-9)


def test_revaluation_surface_point_with_strike_but_no_expiry_is_refused() -> None:
    engine = engine_with_calls()

    actions = engine.handle(VolUpdate("XYZ", mm.START_NS + 1, 0.3, None, 100.0))

    assert [a.kind for a in actions] == ["bad_value"]  # type: ignore[union-attr]


def test_revaluation_act_360_day_count_matches_quantlib_actual_360() -> None:
    engine = engine_with_calls(dataclasses.replace(CONFIG, days_per_year=360.0))

    time_360 = T * 365.0 / 360.0
    oracle = black(100.0, mm.STRIKE, time_360, 0.2)
    assert exposure(engine).delta == pytest.approx(oracle.delta(100.0) * UNITS, rel=1e-9)  # type: ignore[attr-defined]
    # Theta per calendar day: a calendar day is 1/360 of a year under ACT/360.
    theta = oracle.theta(100.0, time_360) / 360.0 * UNITS  # type: ignore[attr-defined]
    assert exposure(engine).theta == pytest.approx(theta, rel=1e-9)


def test_revaluation_futures_underlying_uses_black_76() -> None:
    config = dataclasses.replace(CONFIG, futures_underlyings=frozenset({"XYZ"}))
    engine = engine_with_calls(config)

    # Black-76: the forward is the futures price itself (no carry).
    oracle = black(100.0, mm.STRIKE, T, 0.2, dividend=RATE)
    assert exposure(engine).delta == pytest.approx(oracle.delta(100.0) * UNITS, rel=1e-9)  # type: ignore[attr-defined]


@pytest.fixture
def today() -> Iterator[object]:
    settings = ql.Settings.instance()
    previous = settings.evaluationDate
    settings.evaluationDate = ql.Date(15, ql.January, 2025)
    yield settings.evaluationDate
    settings.evaluationDate = previous


def test_revaluation_american_underlying_prices_puts_with_early_exercise(today: object) -> None:
    config = dataclasses.replace(CONFIG, american_underlyings=frozenset({"XYZ"}))
    engine = HedgeEngine(config)
    engine.handle(mm.tick(90.0, 0))
    put = OptionContract("XYZ", mm.EXPIRY, False, 100.0)
    engine.handle(
        FillReport("P-1", "mm-1", put.occ_symbol, Side.BUY, 10, 12.0, mm.START_NS, multiplier=100)
    )

    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(90.0)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, ql.Actual365Fixed())),
        ql.YieldTermStructureHandle(ql.FlatForward(today, RATE, ql.Actual365Fixed())),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), 0.2, ql.Actual365Fixed())
        ),
    )
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(ql.Option.Put, 100.0),
        ql.AmericanExercise(today, today + round(T * 365)),
    )
    option.setPricingEngine(ql.QdFpAmericanEngine(process, ql.QdFpAmericanEngine.accurateScheme()))
    days_time = round(T * 365) / 365.0
    assert abs(days_time - T) < 1.0 / 365.0
    value = exposure(engine).option_value / 1000.0
    assert value == pytest.approx(option.NPV(), rel=2e-3)  # T differs by under a day
    european = black(90.0, 100.0, T, 0.2, is_call=False).value()  # type: ignore[attr-defined]
    assert value > european


def test_revaluation_expiry_settles_in_the_money_call_into_shares_at_last_mark() -> None:
    engine = engine_with_calls(spot=120.0)
    last_before = PriceTick("XYZ", mm.EXPIRY_NS - 1, 119.99, 120.01, None, 120.0)
    engine.handle(last_before)
    delta_before = exposure(engine).delta

    engine.handle(PriceTick("XYZ", mm.EXPIRY_NS + mm.SECOND, 124.99, 125.01, None, 125.0))

    after = exposure(engine)
    assert after.shares == UNITS  # the calls became shares
    assert after.delta == UNITS
    assert delta_before == pytest.approx(UNITS, rel=1e-6)  # continuous through expiry
    assert after.settled_value == pytest.approx((120.0 - mm.STRIKE) * UNITS)
    assert after.option_value == 0.0
    # Every number but the band, which this engine sets infinite (never hedge).
    numbers = dataclasses.astuple(dataclasses.replace(after, band=0.0))[2:]
    assert all(math.isfinite(v) for v in numbers)


def test_revaluation_expiry_lets_out_of_the_money_call_lapse() -> None:
    engine = engine_with_calls(spot=90.0)

    engine.handle(PriceTick("XYZ", mm.EXPIRY_NS + mm.SECOND, 94.99, 95.01, None, 95.0))

    after = exposure(engine)
    assert (after.shares, after.delta, after.gamma, after.settled_value) == (0.0, 0.0, 0.0, 0.0)


# A strike between two closes, from a daily index history: (the close a day before the
# expiry instant, the close at it). The first ends in the money for a call, the second out.
STRIKE_NEAR_CLOSE = 1819.0
CLOSES = [(1815.69, 1830.61), (1822.0, 1805.0)]


@pytest.mark.parametrize("cash_settled", [False, True])
@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize(("before", "close"), CLOSES)
@pytest.mark.parametrize("seconds_from_expiry", [-1, 0, 1])
def test_revaluation_expiry_settles_at_the_price_stamped_at_the_expiry_instant(
    is_call: bool, before: float, close: float, seconds_from_expiry: int, cash_settled: bool
) -> None:
    contract = OptionContract("XYZ", mm.EXPIRY, is_call, STRIKE_NEAR_CLOSE)
    day_before_ns = mm.EXPIRY_NS - 86_400 * mm.SECOND
    cash = frozenset({"XYZ"}) if cash_settled else frozenset()
    engine = HedgeEngine(dataclasses.replace(CONFIG, cash_settled_underlyings=cash))
    engine.handle(PriceTick("XYZ", day_before_ns, before - 0.01, before + 0.01, None, before))
    buy = FillReport("C-1", "mm-1", contract.occ_symbol, Side.BUY, 10, 20.0, day_before_ns)
    engine.handle(dataclasses.replace(buy, multiplier=100))
    ts_ns = mm.EXPIRY_NS + seconds_from_expiry * mm.SECOND

    engine.handle(PriceTick("XYZ", ts_ns, close - 0.01, close + 0.01, None, close))

    after = exposure(engine)
    sign = 1.0 if is_call else -1.0
    if seconds_from_expiry < 0:
        assert (after.shares, after.settled_value) == (0.0, 0.0)  # still an option
        # A second from expiry, 11 or more points from the strike: delta 1 or 0 a unit.
        in_the_money = sign * (close - STRIKE_NEAR_CLOSE) > 0.0
        assert after.delta == pytest.approx(sign * 1000.0 if in_the_money else 0.0, abs=1e-9)
        return
    # At the instant its own price settles; a tick after it, the last mark before it.
    settlement = close if seconds_from_expiry == 0 else before
    intrinsic = max(sign * (settlement - STRIKE_NEAR_CLOSE), 0.0)
    delivered = sign * 1000.0 if intrinsic > 0.0 and not cash_settled else 0.0
    assert after.shares == delivered
    assert after.settled_value == pytest.approx(intrinsic * 1000.0)
    assert after.option_value == 0.0
    # Paid 20 a unit; got the intrinsic value in cash, or shares at the strike (valued at
    # the close); and a day's interest on the cash.
    (held,) = engine.pnl.now().values()
    cash_in = intrinsic * 1000.0 if cash_settled else -delivered * STRIKE_NEAR_CLOSE
    expected = -20.0 * 1000.0 + cash_in + delivered * close
    assert held.pnl - held.attribution["financing"] == pytest.approx(expected, abs=1e-6)


def test_revaluation_prices_a_1999_option_traded_in_1998_to_its_1999_expiry() -> None:
    new_york = ZoneInfo("America/New_York")
    expiry_ns = expiry_instant_ns(dt.date(1999, 1, 15), dt.time(16, 0), new_york)
    traded_ns = expiry_ns - NANOS_PER_YEAR // 2
    engine = HedgeEngine(CONFIG)
    engine.handle(PriceTick("XYZ", traded_ns, 99.99, 100.01, None, 100.0))
    buy = FillReport("C-1", "mm-1", "XYZ   990115C00100000", Side.BUY, 10, 6.0, traded_ns)

    assert engine.handle(dataclasses.replace(buy, multiplier=100)) == []

    oracle = black(100.0, 100.0, 0.5, 0.2)  # half a year, not a century and a half
    assert exposure(engine).delta == pytest.approx(oracle.delta(100.0) * 1000.0, rel=1e-9)  # type: ignore[attr-defined]


def test_revaluation_exposure_gives_delta_in_currency_and_gamma_per_percent() -> None:
    engine = engine_with_calls()

    found = exposure(engine)
    oracle = black(100.0, mm.STRIKE, T, 0.2)

    assert found.mark == 100.0
    assert found.delta_notional == pytest.approx(found.delta * 100.0)
    assert found.gamma_per_percent == pytest.approx(found.gamma * 100.0 * 0.01)
    assert found.rho == pytest.approx(oracle.rho(T) / 100.0 * UNITS, rel=1e-9)  # type: ignore[attr-defined]


def test_revaluation_scenario_grid_cell_matches_quantlib_repricing() -> None:
    shocks = Shocks(spot=(-0.1, 0.0, 0.2), vol_points=(-5.0, 0.0, 10.0))
    engine = engine_with_calls(dataclasses.replace(CONFIG, scenario_shocks=shocks))
    engine.handle(FillReport("S-1", "mm-1", "XYZ", Side.SELL, 6000, 100.0, mm.START_NS + 1))

    grid = engine.scenario_grids()["XYZ"]

    base = black(100.0, mm.STRIKE, T, 0.2).value()  # type: ignore[attr-defined]
    for i, spot_shock in enumerate(shocks.spot):
        for j, vol_points in enumerate(shocks.vol_points):
            spot = 100.0 * (1 + spot_shock)
            shocked = black(spot, mm.STRIKE, T, 0.2 + vol_points / 100).value()  # type: ignore[attr-defined]
            expected = (shocked - base) * UNITS - 6000 * (spot - 100.0)
            assert grid.pnl[0, i, j] == pytest.approx(expected, rel=1e-9, abs=1e-6)
    worst = grid.worst(0)
    assert worst.pnl == pytest.approx(float(np.min(grid.pnl[0])))
    # Delta-hedged long calls are long gamma and vega: worst when nothing moves and vol falls.
    assert (worst.spot_shock, worst.vol_shock_points) == (0.0, -5.0)
