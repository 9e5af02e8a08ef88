"""BandPolicy: the no-transaction band, its target range, and trading back in whole lots."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hedger.core.policy import BandInputs, BandPolicy, BandWidth, HedgeTo

PROPERTIES = settings(max_examples=500, deadline=None)
SPOT = 100.0
FLAT = BandInputs(spot=SPOT, gamma=0.0, rate=0.0, years_to_horizon=0.0)


def hedge(policy: BandPolicy, net_delta: float, inputs: BandInputs = FLAT) -> float:
    """Signed shares the policy trades at `net_delta` (0.0 for none), in whole lots."""
    goal = policy.goal(net_delta, policy.band(inputs))
    return 0.0 if goal is None else policy.whole_lots(goal - net_delta)


def test_band_policy_inside_band_trades_nothing():
    policy = BandPolicy(band_shares=100.0)
    assert hedge(policy, 99.0) == 0.0
    assert hedge(policy, -99.0) == 0.0


def test_band_policy_exactly_on_the_band_edge_trades_nothing():
    policy = BandPolicy(band_shares=100.0)
    assert hedge(policy, 100.0) == 0.0
    assert hedge(policy, -100.0) == 0.0


@pytest.mark.parametrize(
    ("net_delta", "expected"),
    [(6_000.4, -6_000.0), (-6_000.6, 6_001.0), (100.5, -100.0), (150.0, -150.0)],
)
def test_band_policy_outside_band_trades_back_to_target_in_whole_shares(net_delta, expected):
    assert hedge(BandPolicy(band_shares=100.0), net_delta) == expected


@pytest.mark.parametrize(
    ("net_delta", "expected"),
    [(6_540.0, -6_500.0), (6_560.0, -6_600.0), (-349.0, 300.0), (-351.0, 400.0)],
)
def test_band_policy_outside_band_rounds_to_the_nearest_lot(net_delta, expected):
    assert hedge(BandPolicy(band_shares=100.0, lot_size=100.0), net_delta) == expected


def test_band_policy_quantity_rounding_to_zero_lots_trades_nothing():
    # Band 10 < half a lot: 40 shares out is outside the band but rounds to 0 lots.
    policy = BandPolicy(band_shares=10.0, lot_size=100.0)
    assert hedge(policy, 40.0) == 0.0
    assert hedge(policy, -49.0) == 0.0
    assert hedge(policy, 51.0) == -100.0


def test_band_policy_nonzero_target_trades_back_to_the_target():
    policy = BandPolicy(band_shares=100.0, target_delta=-1_000.0)
    assert hedge(policy, -1_050.0) == 0.0
    assert hedge(policy, 0.0) == -1_000.0
    assert hedge(policy, -2_500.0) == 1_500.0


def test_band_policy_nonzero_target_band_is_around_the_target_not_zero():
    policy = BandPolicy(band_shares=100.0, target_delta=5_000.0)
    # |0 − 5000| is far outside the band although net delta is flat.
    assert hedge(policy, 0.0) == 5_000.0
    assert hedge(policy, 5_080.0) == 0.0


def test_band_policy_zero_band_hedges_any_whole_lot_away():
    policy = BandPolicy(band_shares=0.0)
    assert hedge(policy, 0.0) == 0.0
    assert hedge(policy, 2.0) == -2.0


def test_band_policy_target_range_trades_to_its_nearest_end():
    policy = BandPolicy(band_shares=100.0, target_delta=-500.0, target_delta_high=500.0)
    assert hedge(policy, 550.0) == 0.0  # inside [-600, 600]
    assert hedge(policy, -590.0) == 0.0
    assert hedge(policy, 700.0) == -200.0  # back to +500, not to the middle
    assert hedge(policy, -1_000.0) == 500.0  # back to −500


def test_band_policy_hedge_to_edge_stops_at_the_band_edge():
    policy = BandPolicy(band_shares=100.0, hedge_to=HedgeTo.EDGE)
    assert hedge(policy, 350.0) == -250.0  # to +100, the edge
    assert hedge(policy, -350.0) == 250.0  # to −100
    ranged = BandPolicy(
        band_shares=100.0, target_delta=0.0, target_delta_high=1_000.0, hedge_to=HedgeTo.EDGE
    )
    assert hedge(ranged, 1_500.0) == -400.0  # to 1,100


def test_band_policy_currency_band_is_currency_over_spot():
    policy = BandPolicy(band_shares=0.0, width=BandWidth.CURRENCY, band_currency=50_000.0)
    at_100 = BandInputs(spot=100.0, gamma=0.0, rate=0.0, years_to_horizon=0.0)
    at_250 = BandInputs(spot=250.0, gamma=0.0, rate=0.0, years_to_horizon=0.0)
    assert policy.band(at_100) == 500.0
    assert policy.band(at_250) == 200.0
    assert hedge(policy, 450.0, at_100) == 0.0
    assert hedge(policy, 450.0, at_250) == -450.0


def test_band_policy_gamma_band_is_a_multiple_of_absolute_gamma():
    policy = BandPolicy(band_shares=0.0, width=BandWidth.GAMMA, band_gamma_moves=0.5)
    short_gamma = BandInputs(spot=SPOT, gamma=-2_000.0, rate=0.0, years_to_horizon=0.0)
    assert policy.band(short_gamma) == 1_000.0  # the delta a 0.50 move makes
    assert hedge(policy, 900.0, short_gamma) == 0.0
    assert hedge(policy, 1_200.0, short_gamma) == -1_200.0


@pytest.mark.parametrize(
    "arguments",
    [
        {"band_shares": -1.0},
        {"band_shares": 100.0, "lot_size": 0.0},
        {"band_shares": 100.0, "lot_size": -100.0},
        {"band_shares": 100.0, "min_interval_ns": -1},
        {"band_shares": math.nan},
        {"band_shares": 100.0, "lot_size": math.nan},
        {"band_shares": 100.0, "lot_size": math.inf},
        {"band_shares": 100.0, "target_delta": math.nan},
        {"band_shares": 100.0, "target_delta": math.inf},
        {"band_shares": 100.0, "target_delta": 10.0, "target_delta_high": 5.0},
        {"band_shares": 100.0, "band_currency": -1.0},
        {"band_shares": 100.0, "risk_aversion": 0.0},
        {"band_shares": 100.0, "cost_fraction": math.nan},
        {"band_shares": 100.0, "leland_cost": 0.01},  # no rebalancing interval for Δt
        {"band_shares": 100.0, "rebalance_every_ns": -1},
    ],
    ids=repr,
)
def test_band_policy_invalid_construction_raises(arguments):
    with pytest.raises(ValueError, match="invalid policy"):
        BandPolicy(**arguments)


deltas = st.floats(min_value=-1e7, max_value=1e7)
targets = st.floats(min_value=-1e5, max_value=1e5)
bands = st.floats(min_value=0.0, max_value=1e5)
lots = st.sampled_from([1.0, 100.0, 0.5, 0.1, 25.0]) | st.floats(min_value=0.01, max_value=1e3)


def policies() -> st.SearchStrategy[BandPolicy]:
    return st.builds(BandPolicy, band_shares=bands, target_delta=targets, lot_size=lots)


def slack(*values: float) -> float:
    """Float rounding allowed in sums of these magnitudes (a few thousand ulps)."""
    return 1e-12 * max(1.0, *(abs(value) for value in values))


@PROPERTIES
@given(policy=policies(), net_delta=deltas)
def test_band_policy_quantity_is_a_whole_number_of_lots(policy, net_delta):
    quantity = hedge(policy, net_delta)
    lots_traded = round(quantity / policy.lot_size)
    assert quantity == float(lots_traded * policy.lot_size)


@PROPERTIES
@given(policy=policies(), net_delta=deltas)
def test_band_policy_order_leaves_net_delta_within_half_a_lot_of_target(policy, net_delta):
    quantity = hedge(policy, net_delta)
    assume(quantity != 0.0)
    residual = net_delta + quantity - policy.target_delta
    tolerance = slack(net_delta, quantity, policy.target_delta)
    assert abs(residual) <= policy.lot_size / 2 + tolerance


@PROPERTIES
@given(policy=policies(), net_delta=deltas)
def test_band_policy_order_never_moves_net_delta_away_from_target(policy, net_delta):
    quantity = hedge(policy, net_delta)
    before = net_delta - policy.target_delta
    after = before + quantity
    tolerance = slack(net_delta, quantity, policy.target_delta)
    assert abs(after) <= abs(before) + tolerance
    # A trade goes towards the target, never past it by more than half a lot.
    assert quantity == 0.0 or math.copysign(1.0, quantity) == -math.copysign(1.0, before)


@PROPERTIES
@given(policy=policies(), net_delta=deltas)
def test_band_policy_trades_exactly_when_outside_band_and_at_least_half_a_lot_out(
    policy, net_delta
):
    quantity = hedge(policy, net_delta)
    distance = abs(net_delta - policy.target_delta)
    tolerance = slack(net_delta, policy.target_delta)
    if distance <= policy.band_shares:
        assert quantity == 0.0
    elif distance > policy.lot_size / 2 + tolerance:
        assert quantity != 0.0
    elif distance < policy.lot_size / 2 - tolerance:
        assert quantity == 0.0


@PROPERTIES
@given(policy=policies(), net_delta=deltas)
def test_band_policy_hedge_to_edge_lands_on_the_band_edge_within_half_a_lot(policy, net_delta):
    edge_policy = BandPolicy(
        policy.band_shares, policy.target_delta, policy.lot_size, hedge_to=HedgeTo.EDGE
    )
    quantity = hedge(edge_policy, net_delta)
    assume(quantity != 0.0)
    after = net_delta + quantity - policy.target_delta
    tolerance = slack(net_delta, quantity, policy.target_delta, policy.band_shares)
    assert abs(abs(after) - policy.band_shares) <= policy.lot_size / 2 + tolerance
