"""Gamma and vega hedging with listed options, then delta with the underlying.

Textbook case: Hull, Options, Futures, and Other Derivatives, "Gamma and vega hedging": a
delta-neutral portfolio with gamma −5,000 and vega −8,000; traded option 1 has delta 0.6,
gamma 0.5, vega 2.0; option 2 delta 0.5, gamma 0.8, vega 1.2. By hand: w1 = 400 of
option 1 and w2 = 6,000 of option 2 (0.5 w1 + 0.8 w2 = 5,000; 2.0 w1 + 1.2 w2 = 8,000),
which bring delta to 0.6 × 400 + 0.5 × 6,000 = 3,240, so 3,240 units of the asset are sold.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from hedger.core.actions import HedgeDenied, SubmitHedgeOrder
from hedger.core.controls import BookLimits, ControlLimits
from hedger.core.decisions import BookSetup
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    FillReport,
    HedgeOrderRecorded,
    PriceTick,
    RecoveryCompleted,
    Side,
    TimerFired,
    VolUpdate,
)
from hedger.core.instruments import OptionContract, expiry_instant_ns
from hedger.core.option_hedge import (
    GammaVegaPolicy,
    GreekRanges,
    HedgeOption,
    plan_option_hedge,
)
from hedger.core.policy import BandPolicy

ql = pytest.importorskip("QuantLib")

OPTION_1 = HedgeOption("O1", delta=0.6, gamma=0.5, vega=2.0, cost_per_contract=1.0, price=1.0)
OPTION_2 = HedgeOption("O2", delta=0.5, gamma=0.8, vega=1.2, cost_per_contract=1.0, price=1.0)
NEUTRAL = GreekRanges(gamma=(0.0, 0.0), vega=(0.0, 0.0))


def test_option_hedge_hull_example_matches_the_hand_solution():
    plan = plan_option_hedge(-5_000.0, -8_000.0, [OPTION_1, OPTION_2], NEUTRAL)
    assert plan is not None
    assert plan.contracts == (400.0, 6_000.0)
    assert (plan.gamma, plan.vega) == (0.0, 0.0)
    assert plan.delta == pytest.approx(3_240.0, abs=1e-9)  # so 3,240 shares are sold


def test_option_hedge_variant_with_gamma_minus_3000_vega_minus_4000_sells_option_1():
    # By hand: 0.5 w1 + 0.8 w2 = 3,000 and 2.0 w1 + 1.2 w2 = 4,000 give w1 = −400,
    # w2 = 4,000; delta 0.6 × (−400) + 0.5 × 4,000 = 1,760.
    plan = plan_option_hedge(-3_000.0, -4_000.0, [OPTION_1, OPTION_2], NEUTRAL)
    assert plan is not None
    assert plan.contracts == (-400.0, 4_000.0)
    assert plan.delta == pytest.approx(1_760.0, abs=1e-9)


def test_option_hedge_one_option_for_two_exact_targets_is_infeasible():
    assert plan_option_hedge(-5_000.0, -8_000.0, [OPTION_1], NEUTRAL) is None


def test_option_hedge_inside_targets_trades_nothing():
    ranges = GreekRanges(gamma=(-100.0, 100.0), vega=(-100.0, 100.0))
    plan = plan_option_hedge(50.0, -20.0, [OPTION_1, OPTION_2], ranges)
    assert plan is not None
    assert plan.contracts == (0.0, 0.0)
    assert plan.cost == 0.0


def test_option_hedge_finds_the_cheapest_whole_contracts_like_brute_force():
    options = [
        HedgeOption("A", 0.5, 3.0, 1.0, cost_per_contract=2.0, price=1.0),
        HedgeOption("B", 0.4, 1.0, 4.0, cost_per_contract=1.5, price=1.0),
        HedgeOption("C", -0.3, 2.0, 2.0, cost_per_contract=1.0, price=1.0),
    ]
    ranges = GreekRanges(gamma=(-3.0, 3.0), vega=(-4.0, 4.0))
    gamma, vega = -31.0, -27.0
    plan = plan_option_hedge(gamma, vega, options, ranges)
    best = min(
        sum(abs(n) * o.cost_per_contract for n, o in zip(counts, options, strict=True))
        for counts in itertools.product(range(-20, 21), repeat=3)
        if ranges.contain(
            gamma + sum(n * o.gamma for n, o in zip(counts, options, strict=True)),
            vega + sum(n * o.vega for n, o in zip(counts, options, strict=True)),
        )
    )
    assert plan is not None
    assert plan.cost == pytest.approx(best, abs=1e-9)
    assert ranges.contain(plan.gamma, plan.vega)


# --- through the engine, Greeks checked against QuantLib --------------------------------

ZONE = ZoneInfo("America/New_York")
TODAY = dt.date(2027, 1, 4)
NOW_NS = expiry_instant_ns(TODAY, dt.time(16, 0), ZONE)
SPOT, VOL, RATE = 100.0, 0.25, 0.03
BOOK_OPTION = OptionContract("XYZ", dt.date(2027, 2, 26), True, 100.0)
HEDGE_CALL = OptionContract("XYZ", dt.date(2027, 3, 5), True, 105.0)
HEDGE_PUT = OptionContract("XYZ", dt.date(2027, 2, 19), False, 95.0)
TARGETS = GreekRanges(gamma=(-2.0, 2.0), vega=(-10.0, 10.0))
DEFAULT_LIMITS, DEFAULT_CONTROLS = BookLimits(), ControlLimits()
SECOND = 1_000_000_000
MINUTE = 60 * SECOND


def quantlib_process(vol: float) -> Any:
    """Spot, no dividend, the rate and a flat `vol`, as of TODAY (ACT/365)."""
    today = ql.Date(TODAY.day, TODAY.month, TODAY.year)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    return ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(SPOT)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, RATE, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), vol, day_count)
        ),
    )


def quantlib_greeks(contract: OptionContract, vol: float = VOL) -> np.ndarray:
    """(delta, gamma, vega per vol point, price) of one option, from QuantLib (T in whole
    days)."""
    process = quantlib_process(vol)
    expiry = contract.expiry
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(
            ql.Option.Call if contract.is_call else ql.Option.Put, contract.strike
        ),
        ql.EuropeanExercise(ql.Date(expiry.day, expiry.month, expiry.year)),
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return np.array([option.delta(), option.gamma(), option.vega() / 100.0, option.NPV()])


def gamma_vega_engine(
    surface: tuple[VolUpdate, ...] = (),
    limits: BookLimits = DEFAULT_LIMITS,
    controls: ControlLimits = DEFAULT_CONTROLS,
    read_back: tuple[HedgeOrderRecorded, ...] = (),
) -> HedgeEngine:
    policy = GammaVegaPolicy(
        options=(HEDGE_CALL.occ_symbol, HEDGE_PUT.occ_symbol),
        targets=TARGETS,
        half_spread=0.05,
        commission_per_contract=0.01,
        every_ns=MINUTE,
    )
    band = BandPolicy(band_shares=10.0, name="gamma-vega desk")
    config = EngineConfig(
        policy=band,
        rate=RATE,
        default_multiplier=1.0,
        books=(("mm-1", BookSetup(band, limits, gamma_vega=(("XYZ", policy),))),),
        controls=controls,
    )
    engine = HedgeEngine(config)
    for update in (VolUpdate("XYZ", NOW_NS - 3 * MINUTE, VOL), *surface):
        engine.handle(update)
    engine.handle(PriceTick("XYZ", NOW_NS - 2 * MINUTE, SPOT - 0.01, SPOT + 0.01, None, SPOT))
    sold = FillReport(
        "C-1", "mm-1", BOOK_OPTION.occ_symbol, Side.SELL, 20_000, 3.2, NOW_NS - MINUTE
    )
    engine.handle(sold)
    # The book starts delta-hedged (inside its 10-share band): only gamma and vega are out.
    shares = round(20_000 * quantlib_greeks(BOOK_OPTION)[0])
    engine.handle(FillReport("S-1", "mm-1", "XYZ", Side.BUY, shares, SPOT, NOW_NS - MINUTE))
    for order in read_back:
        engine.handle(order)
    engine.handle(RecoveryCompleted(NOW_NS - MINUTE))
    # A fresh tick a second before the timer: Greeks as of now, within the staleness limit.
    engine.handle(PriceTick("XYZ", NOW_NS - SECOND, SPOT - 0.01, SPOT + 0.01, None, SPOT))
    return engine


def fill_every_order(engine: HedgeEngine, actions: list[Any]) -> None:
    for index, order in enumerate(a for a in actions if isinstance(a, SubmitHedgeOrder)):
        fill = FillReport(
            f"PX-{index}", order.book, order.symbol, order.side, order.qty,
            order.ref_price, NOW_NS + 1, order_id=order.order_id, fee=1.0,
        )  # fmt: skip
        engine.handle(fill)


def orders_by_symbol(actions: list[Any]) -> dict[str, float]:
    return {a.symbol: a.side.sign * a.qty for a in actions if isinstance(a, SubmitHedgeOrder)}


def test_engine_gamma_vega_timer_trades_both_options_like_the_hand_solution_then_delta():
    engine = gamma_vega_engine()
    actions = engine.handle(TimerFired(NOW_NS))
    sent = orders_by_symbol(actions)
    book = -20_000 * quantlib_greeks(BOOK_OPTION)[:3]
    hedges = np.column_stack([quantlib_greeks(HEDGE_CALL)[:3], quantlib_greeks(HEDGE_PUT)[:3]])
    # The hand solution: gamma and vega exactly neutral, in fractions of an option.
    exact = np.linalg.solve(hedges[1:], -book[1:])
    # Whole contracts inside the target box may sit anywhere in it: how far that is from
    # the exact solution, at most, in contracts.
    corner = np.abs(np.linalg.inv(hedges[1:])) @ np.array([TARGETS.gamma[1], TARGETS.vega[1]])
    traded = np.array([sent[HEDGE_CALL.occ_symbol], sent[HEDGE_PUT.occ_symbol]])
    assert np.all(np.abs(traded - exact) <= corner + 1.0)
    gamma_after, vega_after = book[1:] + hedges[1:] @ traded
    assert TARGETS.contain(gamma_after, vega_after)
    # Then the shares: the book's delta with the new options, back to zero in whole shares.
    delta_after_options = book[0] + round(-book[0]) + hedges[0] @ traded
    # Half a share of rounding, plus the book's delta drift over the second since the tick.
    assert sent["XYZ"] == pytest.approx(-delta_after_options, abs=0.51)


def test_engine_gamma_vega_working_option_orders_count_and_block_a_second_plan():
    engine = gamma_vega_engine()
    first = orders_by_symbol(engine.handle(TimerFired(NOW_NS)))
    assert len(first) == 3
    # Next minute, nothing filled yet: no new plan, and a tick does not re-hedge the delta
    # the working option orders will bring.
    again = engine.handle(TimerFired(NOW_NS + MINUTE))
    assert orders_by_symbol(again) == {}
    tick = PriceTick("XYZ", NOW_NS + MINUTE + 1, SPOT - 0.01, SPOT + 0.01, None, SPOT)
    assert orders_by_symbol(engine.handle(tick)) == {}


def test_engine_gamma_vega_after_fills_book_is_inside_targets_and_stays_put():
    engine = gamma_vega_engine()
    actions = engine.handle(TimerFired(NOW_NS))
    fill_every_order(engine, actions)
    exposure = next(e for e in engine.exposures() if e.underlying == "XYZ")
    assert TARGETS.contain(exposure.gamma, exposure.vega)
    assert abs(exposure.delta) <= 10.0
    assert orders_by_symbol(engine.handle(TimerFired(NOW_NS + MINUTE))) == {}


def test_engine_gamma_vega_single_hedge_option_cannot_reach_both_targets_and_says_so():
    engine = gamma_vega_engine()
    setup = engine.desk.setups["mm-1"]
    policy = dataclasses.replace(setup.gamma_vega[0][1], options=(HEDGE_CALL.occ_symbol,))
    policy = dataclasses.replace(policy, targets=GreekRanges((0.0, 0.0), (0.0, 0.0)))
    engine.desk.setups["mm-1"] = dataclasses.replace(setup, gamma_vega=(("XYZ", policy),))
    actions = engine.handle(TimerFired(NOW_NS))
    denied = [a for a in actions if isinstance(a, HedgeDenied)]
    assert [d.reason for d in denied] == ["gamma_vega_infeasible"]
    assert orders_by_symbol(actions) == {}


def plan_notionals() -> tuple[float, float]:
    """(premium of the option orders, shares × mark of the share order) of the first plan,
    from QuantLib's prices and the uncapped engine's quantities."""
    sent = orders_by_symbol(gamma_vega_engine().handle(TimerFired(NOW_NS)))
    premium = sum(abs(sent[c.occ_symbol]) * quantlib_greeks(c)[3] for c in (HEDGE_CALL, HEDGE_PUT))
    return premium, abs(sent["XYZ"]) * SPOT


def refusals(actions: list[Any]) -> list[str]:
    return [a.reason for a in actions if isinstance(a, HedgeDenied)]


def test_engine_gamma_vega_plan_counts_its_premium_toward_the_book_minute_cap():
    premium, shares = plan_notionals()
    assert premium > 1_000.0  # the cap below bites on a real amount
    just_under = BookLimits(max_notional_per_minute=premium * 0.999)
    refused = gamma_vega_engine(limits=just_under).handle(TimerFired(NOW_NS))
    assert orders_by_symbol(refused) == {}
    assert refusals(refused) == ["notional_cap_book"]
    room = BookLimits(max_notional_per_minute=(premium + shares) * 1.001)
    assert len(orders_by_symbol(gamma_vega_engine(limits=room).handle(TimerFired(NOW_NS)))) == 3


def test_engine_gamma_vega_option_order_read_back_keeps_its_premium_in_the_total_cap():
    premium, shares = plan_notionals()
    other_book = HedgeOrderRecorded(
        "H-earlier", "mm-2", HEDGE_PUT.occ_symbol, Side.BUY, 500, NOW_NS - 30 * SECOND, 4.0
    )  # 2,000 of premium, 30 s before the timer: still in its minute
    total = ControlLimits(total_notional_per_minute=premium + 1_000.0)
    capped = gamma_vega_engine(controls=total, read_back=(other_book,))
    actions = capped.handle(TimerFired(NOW_NS))
    assert orders_by_symbol(actions) == {}
    assert refusals(actions) == ["notional_cap_total"]
    # A minute later the read-back order has left the window: the options go, and the
    # share order, over what is left of the cap, waits.
    tick = PriceTick("XYZ", NOW_NS + MINUTE - SECOND, SPOT - 0.01, SPOT + 0.01, None, SPOT)
    assert orders_by_symbol(capped.handle(tick)) == {}
    later = capped.handle(TimerFired(NOW_NS + MINUTE))
    assert set(orders_by_symbol(later)) == {HEDGE_CALL.occ_symbol, HEDGE_PUT.occ_symbol}
    assert refusals(later) == ["notional_cap_total"]
    assert shares > 1_000.0


# A surface with a slice at each option's expiry, one point at its strike: each option's vol
# is its own point's (the book's at the flat vol, the hedge options' well away from it).
SURFACE_VOLS = {BOOK_OPTION: VOL, HEDGE_CALL: 0.32, HEDGE_PUT: 0.18}
SURFACE = tuple(
    VolUpdate("XYZ", NOW_NS - 3 * MINUTE + 1, vol, c.expiry, c.strike)
    for c, vol in SURFACE_VOLS.items()
)


def test_engine_gamma_vega_prices_hedge_options_at_their_surface_vols():
    engine = gamma_vega_engine(SURFACE)
    actions = [a for a in engine.handle(TimerFired(NOW_NS)) if isinstance(a, SubmitHedgeOrder)]
    prices = {a.symbol: a.ref_price for a in actions}
    for contract in (HEDGE_CALL, HEDGE_PUT):
        expected = quantlib_greeks(contract, SURFACE_VOLS[contract])[3]
        at_flat_vol = quantlib_greeks(contract)[3]
        assert prices[contract.occ_symbol] == pytest.approx(expected, rel=1e-9)
        assert abs(expected - at_flat_vol) > 0.1 * expected
    sent = orders_by_symbol(actions)
    book = -20_000 * quantlib_greeks(BOOK_OPTION)[:3]
    hedges = np.column_stack(
        [quantlib_greeks(c, SURFACE_VOLS[c])[:3] for c in (HEDGE_CALL, HEDGE_PUT)]
    )
    traded = np.array([sent[HEDGE_CALL.occ_symbol], sent[HEDGE_PUT.occ_symbol]])
    assert TARGETS.contain(*(book[1:] + hedges[1:] @ traded))


def test_engine_gamma_vega_with_a_surface_after_fills_book_is_inside_targets():
    # The book revalues the hedge options at the surface: the plan must have used it too.
    engine = gamma_vega_engine(SURFACE)
    actions = engine.handle(TimerFired(NOW_NS))
    fill_every_order(engine, actions)
    exposure = next(e for e in engine.exposures() if e.underlying == "XYZ")
    assert TARGETS.contain(exposure.gamma, exposure.vega)
    assert abs(exposure.delta) <= 10.0


def test_hedge_options_on_an_american_underlying_are_priced_american():
    # A deep in-the-money put, where early exercise is worth far more than the method's
    # error: QuantLib's finite-difference American engine on a fine grid is the reference.
    config = EngineConfig(
        policy=BandPolicy(band_shares=10.0), rate=RATE, american_underlyings=frozenset({"XYZ"})
    )
    engine = HedgeEngine(config)
    engine.handle(VolUpdate("XYZ", NOW_NS - MINUTE, VOL))
    deep_put = OptionContract("XYZ", dt.date(2027, 3, 5), False, 130.0)
    greeks = engine.desk.valuation.contract_greeks("XYZ", [deep_put], SPOT, NOW_NS)
    european = quantlib_greeks(deep_put)[3]
    american = quantlib_american_price(deep_put)
    assert american - european > 0.01 * european
    assert greeks.value[0] == pytest.approx(american, rel=1e-3)


def quantlib_american_price(contract: OptionContract) -> float:
    process = quantlib_process(VOL)
    expiry = contract.expiry
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(ql.Option.Put, contract.strike),
        ql.AmericanExercise(
            process.riskFreeRate().referenceDate(), ql.Date(expiry.day, expiry.month, expiry.year)
        ),
    )
    option.setPricingEngine(ql.FdBlackScholesVanillaEngine(process, 1000, 1000))
    return float(option.NPV())
