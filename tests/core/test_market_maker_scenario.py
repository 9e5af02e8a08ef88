"""The market-maker example of docs/concepts/books.md is what it claims, by QuantLib."""

from __future__ import annotations

import pytest
import QuantLib as ql  # noqa: N813 (its conventional name)

from tests.scenarios import market_maker as mm


def quantlib_call_delta(spot: float, years: float) -> float:
    today = ql.Date(20, 11, 2026)
    ql.Settings.instance().evaluationDate = today
    day_count = ql.Actual365Fixed()
    # QuantLib dates are whole days: rescale rate and vol so that r·T and σ²·T (all a
    # European delta depends on, with no dividends) are exactly those of `years`.
    days = round(years * 365)
    scale = years / (days / 365.0)
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, 0.0, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, mm.RATE * scale, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), mm.VOL * scale**0.5, day_count)
        ),
    )
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(ql.Option.Call, mm.STRIKE),
        ql.EuropeanExercise(today + days),
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return float(option.delta())


def test_scenario_call_delta_is_060_at_100_and_065_at_102():
    assert quantlib_call_delta(100.0, mm.YEARS_TO_EXPIRY) == pytest.approx(0.60, abs=1e-9)
    assert quantlib_call_delta(102.0, mm.YEARS_TO_EXPIRY) == pytest.approx(0.65, abs=1e-9)
