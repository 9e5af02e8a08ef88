"""Whalley–Wilmott band width and Leland's volatility against their published formulas.

The references are the formulas evaluated independently in 50-digit decimal arithmetic,
plus one value of each worked by hand (to the digits shown).

Whalley & Wilmott (1997): H = (3/2 · e^{−r(T−t)} · λ · S · Γ² / γ)^{1/3}.
Leland (1985): σ̂² = σ² (1 + sqrt(2/π) · k / (σ sqrt(Δt))), the writer's (short gamma)
adjustment; a long-gamma position takes 1 − Le (Hoggard, Whalley & Wilmott 1994).
"""

from __future__ import annotations

from decimal import Decimal, getcontext

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.policy import (
    BandInputs,
    BandPolicy,
    BandWidth,
    leland_volatility,
    whalley_wilmott_band,
)

getcontext().prec = 50
PI = Decimal("3.14159265358979323846264338327950288419716939937510")


def decimal_whalley_wilmott(spot, gamma, cost, aversion, rate, years) -> float:
    discount = (-Decimal(rate) * Decimal(years)).exp()
    inside = Decimal("1.5") * discount * Decimal(cost) * Decimal(spot) * Decimal(gamma) ** 2
    inside /= Decimal(aversion)
    return float((inside.ln() / 3).exp())


def decimal_leland(vol, cost, interval_years, sign) -> float:
    sigma = Decimal(vol)
    leland_number = (2 / PI).sqrt() * Decimal(cost) / (sigma * Decimal(interval_years).sqrt())
    variance = sigma * sigma * (1 + sign * leland_number)
    return float(max(variance, Decimal(0)).sqrt())


def test_whalley_wilmott_band_worked_example():
    # S 100, Γ 2,000 shares per 1.00, λ 0.1%, γ 0.5, r 5%, half a year to the horizon:
    # 1.5 × e^{−0.025} × 0.001 × 100 × 2000² / 0.5 = 1,170,371.89; its cube root 105.384.
    band = whalley_wilmott_band(100.0, 2_000.0, 0.001, 0.5, 0.05, 0.5)
    assert band == pytest.approx(105.38398766921738, rel=1e-14)


@settings(max_examples=300, deadline=None)
@given(
    spot=st.floats(1.0, 5_000.0),
    gamma=st.floats(-1e6, 1e6).filter(lambda g: abs(g) > 1e-3),
    cost=st.floats(1e-6, 0.05),
    aversion=st.floats(1e-3, 100.0),
    rate=st.floats(-0.02, 0.2),
    years=st.floats(0.0, 5.0),
)
def test_whalley_wilmott_band_equals_the_published_formula(
    spot, gamma, cost, aversion, rate, years
):
    expected = decimal_whalley_wilmott(spot, gamma, cost, aversion, rate, years)
    assert whalley_wilmott_band(spot, gamma, cost, aversion, rate, years) == pytest.approx(
        expected, rel=1e-12
    )


def test_whalley_wilmott_policy_band_uses_the_formula_with_its_inputs():
    policy = BandPolicy(
        band_shares=0.0,
        width=BandWidth.WHALLEY_WILMOTT,
        cost_fraction=0.001,
        risk_aversion=0.5,
    )
    inputs = BandInputs(spot=100.0, gamma=-2_000.0, rate=0.05, years_to_horizon=0.5)
    assert policy.band(inputs) == pytest.approx(105.38398766921738, rel=1e-14)


def test_leland_volatility_worked_example():
    # σ 20%, k 1% round trip, weekly: Le = 0.79788 × 0.01 / (0.2 × 0.138675) = 0.287681.
    assert leland_volatility(0.2, 0.01, 1 / 52, gamma=-1.0) == pytest.approx(
        0.22695209799317, rel=1e-12
    )
    assert leland_volatility(0.2, 0.01, 1 / 52, gamma=1.0) == pytest.approx(
        0.16879794197945, rel=1e-12
    )


@settings(max_examples=300, deadline=None)
@given(
    vol=st.floats(0.01, 2.0),
    cost=st.floats(0.0, 0.05),
    interval=st.floats(1e-4, 1.0),
    gamma=st.sampled_from([-1.0, 1.0]),
)
def test_leland_volatility_equals_its_formula(vol, cost, interval, gamma):
    # The writer (short gamma) hedges with a higher vol, the holder with a lower one.
    expected = decimal_leland(vol, cost, interval, sign=-1 if gamma > 0 else 1)
    assert leland_volatility(vol, cost, interval, gamma) == pytest.approx(
        expected, rel=1e-12, abs=1e-12
    )


def test_leland_volatility_long_gamma_with_large_cost_floors_at_zero():
    # Le = 0.798 × 0.05 / (0.1 × 0.0316) ≫ 1: no positive variance is left.
    assert leland_volatility(0.1, 0.05, 0.001, gamma=1.0) == 0.0


def test_leland_volatility_without_cost_is_the_vol():
    assert leland_volatility(0.3, 0.0, 1 / 252, gamma=-5.0) == pytest.approx(0.3, rel=1e-15)
