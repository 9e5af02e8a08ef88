"""hedger.core.greeks by finite differences, parity, no-arbitrage bounds and edge limits."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.greeks import Greeks, black_scholes

PROPERTIES = settings(max_examples=300, deadline=None)

spots = st.floats(min_value=1.0, max_value=1000.0)
strikes = st.floats(min_value=1.0, max_value=1000.0)
expiries = st.floats(min_value=1e-3, max_value=5.0)
vols = st.floats(min_value=0.01, max_value=2.0)
rates = st.floats(min_value=-0.02, max_value=0.15)
dividend_yields = st.floats(min_value=0.0, max_value=0.1)
option_types = st.booleans()


def grid() -> tuple[np.ndarray, ...]:
    """A smooth-region grid as flat arrays: spot, strike, T, vol, rate, dividend, is_call."""
    points = itertools.product(
        (70.0, 100.0, 130.0),
        (100.0,),
        (0.1, 1.0, 3.0),
        (0.15, 0.4),
        (0.0, 0.04),
        (0.0, 0.03),
        (True, False),
    )
    return tuple(np.array(column) for column in zip(*points, strict=True))


def price(*args: object) -> np.ndarray:
    return black_scholes(*args).price  # type: ignore[arg-type]


def test_black_scholes_delta_matches_central_difference_of_price() -> None:
    spot, strike, time, vol, rate, dividend, is_call = grid()
    step = 1e-4 * spot
    up = price(spot + step, strike, time, vol, rate, dividend, is_call)
    down = price(spot - step, strike, time, vol, rate, dividend, is_call)

    greeks = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    np.testing.assert_allclose(greeks.delta, (up - down) / (2 * step), rtol=1e-6, atol=1e-9)


def test_black_scholes_gamma_matches_second_difference_of_price() -> None:
    spot, strike, time, vol, rate, dividend, is_call = grid()
    step = 1e-4 * spot
    up = price(spot + step, strike, time, vol, rate, dividend, is_call)
    mid = price(spot, strike, time, vol, rate, dividend, is_call)
    down = price(spot - step, strike, time, vol, rate, dividend, is_call)

    greeks = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    expected = (up - 2 * mid + down) / (step * step)
    np.testing.assert_allclose(greeks.gamma, expected, rtol=1e-5, atol=1e-8)


def test_black_scholes_vega_matches_central_difference_per_vol_point() -> None:
    spot, strike, time, vol, rate, dividend, is_call = grid()
    step = 1e-5
    up = price(spot, strike, time, vol + step, rate, dividend, is_call)
    down = price(spot, strike, time, vol - step, rate, dividend, is_call)

    greeks = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    per_vol_point = (up - down) / (2 * step) * 0.01
    np.testing.assert_allclose(greeks.vega, per_vol_point, rtol=1e-6, atol=1e-9)


def test_black_scholes_theta_matches_calendar_day_decay() -> None:
    spot, strike, time, vol, rate, dividend, is_call = grid()
    step = 1e-6
    longer = price(spot, strike, time + step, vol, rate, dividend, is_call)
    shorter = price(spot, strike, time - step, vol, rate, dividend, is_call)

    greeks = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    # Theta is time passing: the value moves from T to T − dt, per 365th of a year.
    per_day = -(longer - shorter) / (2 * step) / 365.0
    np.testing.assert_allclose(greeks.theta, per_day, rtol=1e-5, atol=1e-9)


def test_black_scholes_long_atm_call_without_carry_has_negative_theta() -> None:
    greeks = black_scholes(100.0, 100.0, 0.5, 0.2, 0.0, 0.0, True)

    assert greeks.theta < 0.0


@PROPERTIES
@given(spots, strikes, expiries, vols, rates, dividend_yields)
def test_black_scholes_call_minus_put_equals_forward_value(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float
) -> None:
    call = black_scholes(spot, strike, time, vol, rate, dividend, True)
    put = black_scholes(spot, strike, time, vol, rate, dividend, False)

    discounted_spot = spot * math.exp(-dividend * time)
    forward_value = discounted_spot - strike * math.exp(-rate * time)
    scale = spot + strike
    assert call.price - put.price == pytest.approx(forward_value, abs=1e-12 * scale)
    assert call.delta - put.delta == pytest.approx(math.exp(-dividend * time), abs=1e-12)
    assert call.gamma == pytest.approx(float(put.gamma), rel=1e-12)
    assert call.vega == pytest.approx(float(put.vega), rel=1e-12)


@PROPERTIES
@given(spots, strikes, expiries, vols, rates, dividend_yields)
def test_black_scholes_call_price_within_no_arbitrage_bounds(
    spot: float, strike: float, time: float, vol: float, rate: float, dividend: float
) -> None:
    call = black_scholes(spot, strike, time, vol, rate, dividend, True)

    discounted_spot = spot * math.exp(-dividend * time)
    lower = max(discounted_spot - strike * math.exp(-rate * time), 0.0)
    slack = 1e-12 * (spot + strike)
    assert lower - slack <= call.price <= discounted_spot + slack


@PROPERTIES
@given(spots, spots, strikes, expiries, vols, rates, dividend_yields)
def test_black_scholes_call_price_nondecreasing_in_spot(
    spot_a: float,
    spot_b: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
) -> None:
    low, high = sorted((spot_a, spot_b))
    prices = price(np.array([low, high]), strike, time, vol, rate, dividend, True)

    assert prices[1] >= prices[0] - 1e-12 * (high + strike)


@PROPERTIES
@given(spots, strikes, expiries, vols, vols, rates, dividend_yields)
def test_black_scholes_call_price_nondecreasing_in_vol(
    spot: float,
    strike: float,
    time: float,
    vol_a: float,
    vol_b: float,
    rate: float,
    dividend: float,
) -> None:
    low, high = sorted((vol_a, vol_b))
    prices = price(spot, strike, time, np.array([low, high]), rate, dividend, True)

    assert prices[1] >= prices[0] - 1e-12 * (spot + strike)


@PROPERTIES
@given(
    st.lists(
        st.tuples(spots, strikes, expiries, vols, rates, dividend_yields, option_types),
        min_size=1,
        max_size=20,
    )
)
def test_black_scholes_vectorised_equals_scalar_calls(
    rows: list[tuple[float, float, float, float, float, float, bool]],
) -> None:
    vectorised = black_scholes(*(np.array(column) for column in zip(*rows, strict=True)))

    for index, row in enumerate(rows):
        scalar = black_scholes(*row)
        for field in ("price", "delta", "gamma", "vega", "theta"):
            # Not bitwise: numpy may use SIMD exp/log on arrays and libm on scalars.
            np.testing.assert_allclose(
                getattr(vectorised, field)[index],
                getattr(scalar, field),
                rtol=1e-13,
                atol=1e-300,
            )


@PROPERTIES
@given(
    st.floats(min_value=1e-3, max_value=1e6),
    st.floats(min_value=1e-3, max_value=1e6),
    st.floats(min_value=-1.0, max_value=30.0),
    st.floats(min_value=-0.5, max_value=5.0),
    rates,
    dividend_yields,
    option_types,
)
def test_black_scholes_any_finite_input_gives_finite_greeks(
    spot: float,
    strike: float,
    time: float,
    vol: float,
    rate: float,
    dividend: float,
    is_call: bool,
) -> None:
    greeks = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    assert all(np.isfinite(field).all() for field in fields(greeks))
    assert greeks.gamma >= 0.0
    assert greeks.vega >= 0.0


def fields(greeks: Greeks) -> tuple[np.ndarray, ...]:
    return (greeks.price, greeks.delta, greeks.gamma, greeks.vega, greeks.theta)


@pytest.mark.parametrize(
    ("spot", "is_call", "expected_price", "expected_delta"),
    [
        (110.0, True, 10.0, 1.0),
        (90.0, True, 0.0, 0.0),
        (100.0, True, 0.0, 0.0),
        (90.0, False, 10.0, -1.0),
        (110.0, False, 0.0, 0.0),
        (100.0, False, 0.0, 0.0),
    ],
)
@pytest.mark.parametrize("time", [0.0, -0.25])
def test_black_scholes_expired_gives_intrinsic_and_exercise_delta(
    spot: float, is_call: bool, expected_price: float, expected_delta: float, time: float
) -> None:
    greeks = black_scholes(spot, 100.0, time, 0.3, 0.05, 0.02, is_call)

    assert greeks.price == expected_price
    assert greeks.delta == expected_delta
    assert float(greeks.gamma) == float(greeks.vega) == float(greeks.theta) == 0.0


@pytest.mark.parametrize("vol", [0.0, -0.1, 1e-15])
@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize("spot", [80.0, 120.0])
def test_black_scholes_zero_vol_gives_discounted_forward_payoff(
    vol: float, is_call: bool, spot: float
) -> None:
    strike, time, rate, dividend = 100.0, 0.5, 0.05, 0.02
    greeks = black_scholes(spot, strike, time, vol, rate, dividend, is_call)

    sign = 1.0 if is_call else -1.0
    discounted_spot = spot * math.exp(-dividend * time)
    forward_value = sign * (discounted_spot - strike * math.exp(-rate * time))
    in_the_money = forward_value > 0.0
    assert greeks.price == pytest.approx(max(forward_value, 0.0), rel=1e-15)
    assert greeks.delta == pytest.approx(sign * math.exp(-dividend * time) * in_the_money)
    assert float(greeks.gamma) == float(greeks.vega) == 0.0
    # Theta is the calendar-day derivative of the deterministic price itself.
    step = 1e-6
    longer = black_scholes(spot, strike, time + step, vol, rate, dividend, is_call).price
    shorter = black_scholes(spot, strike, time - step, vol, rate, dividend, is_call).price
    per_day = -(longer - shorter) / (2 * step) / 365.0
    assert greeks.theta == pytest.approx(float(per_day), rel=1e-6, abs=1e-15)
    assert (greeks.theta != 0.0) == in_the_money


def test_black_scholes_small_vol_approaches_zero_vol_limit() -> None:
    limit = black_scholes(120.0, 100.0, 0.5, 0.0, 0.05, 0.02, True)
    nearby = black_scholes(120.0, 100.0, 0.5, 1e-4, 0.05, 0.02, True)

    assert nearby.price == pytest.approx(float(limit.price), rel=1e-12)
    assert nearby.delta == pytest.approx(float(limit.delta), rel=1e-12)
    assert nearby.theta == pytest.approx(float(limit.theta), rel=1e-9)


def test_black_scholes_mixed_edges_leave_regular_elements_unchanged() -> None:
    spot = np.array([100.0, 110.0, 90.0, 105.0])
    time = np.array([0.5, 0.0, 0.25, 1.0])
    vol = np.array([0.2, 0.2, 0.0, 0.3])
    is_call = np.array([True, True, False, False])

    mixed = black_scholes(spot, 100.0, time, vol, 0.03, 0.01, is_call)
    regular = black_scholes(
        spot[[0, 3]], 100.0, time[[0, 3]], vol[[0, 3]], 0.03, 0.01, is_call[[0, 3]]
    )

    for mixed_field, regular_field in zip(fields(mixed), fields(regular), strict=True):
        np.testing.assert_array_equal(mixed_field[[0, 3]], regular_field)
    assert mixed.price[1] == 10.0
    assert mixed.delta[2] == pytest.approx(-math.exp(-0.01 * 0.25))


def test_black_scholes_scalar_inputs_give_zero_dimensional_arrays() -> None:
    greeks = black_scholes(100.0, 100.0, 1.0, 0.2, 0.0, 0.0, True)

    assert all(isinstance(f, np.ndarray) and f.shape == () for f in fields(greeks))


def test_black_scholes_inputs_broadcast_to_common_shape() -> None:
    strikes = np.array([[90.0], [100.0], [110.0]])
    is_call = np.array([True, False])

    greeks = black_scholes(100.0, strikes, 0.5, 0.2, 0.01, 0.0, is_call)

    assert all(f.shape == (3, 2) and f.dtype == np.float64 for f in fields(greeks))
    np.testing.assert_array_equal(greeks.vega[:, 0], greeks.vega[:, 1])


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
@pytest.mark.parametrize("argument", ["spot", "strike"])
def test_black_scholes_non_positive_or_non_finite_price_raises(bad: float, argument: str) -> None:
    values = {"spot": 100.0, "strike": 100.0} | {argument: bad}

    with pytest.raises(ValueError, match=argument):
        black_scholes(values["spot"], values["strike"], 1.0, 0.2, 0.0, 0.0, True)


@pytest.mark.parametrize("argument", ["time_to_expiry_years", "vol", "rate", "dividend_yield"])
def test_black_scholes_non_finite_parameter_raises(argument: str) -> None:
    values = {"time_to_expiry_years": 1.0, "vol": 0.2, "rate": 0.0, "dividend_yield": 0.0}
    values[argument] = math.nan

    with pytest.raises(ValueError, match=argument):
        black_scholes(100.0, 100.0, is_call=True, **values)


def test_black_scholes_non_bool_option_type_raises() -> None:
    with pytest.raises(ValueError, match="is_call"):
        black_scholes(100.0, 100.0, 1.0, 0.2, 0.0, 0.0, np.array(["C"]))


@pytest.mark.parametrize(("is_call", "expected"), [(True, 4.76), (False, 0.81)])
def test_black_scholes_hull_example_matches_textbook_price(is_call: bool, expected: float) -> None:
    # Hull, Options, Futures and Other Derivatives: S=42, K=40, r=10%, σ=20%, T=6 months.
    greeks = black_scholes(42.0, 40.0, 0.5, 0.2, 0.1, 0.0, is_call)

    assert round(float(greeks.price), 2) == expected
