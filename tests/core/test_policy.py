"""BandPolicy: when and how much to hedge, in whole lots, at most once per interval."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from hedger.core.policy import BandPolicy

PROPERTIES = settings(max_examples=500, deadline=None)
SECOND = 1_000_000_000
NOW = 1_795_185_000 * SECOND


def test_band_policy_inside_band_trades_nothing():
    policy = BandPolicy(band_shares=100.0)
    assert policy.hedge_quantity(99.0, NOW, None) == 0.0
    assert policy.hedge_quantity(-99.0, NOW, None) == 0.0


def test_band_policy_exactly_on_the_band_edge_trades_nothing():
    policy = BandPolicy(band_shares=100.0)
    assert policy.hedge_quantity(100.0, NOW, None) == 0.0
    assert policy.hedge_quantity(-100.0, NOW, None) == 0.0


@pytest.mark.parametrize(
    ("net_delta", "expected"),
    [(6_000.4, -6_000.0), (-6_000.6, 6_001.0), (100.5, -100.0), (150.0, -150.0)],
)
def test_band_policy_outside_band_trades_back_to_target_in_whole_shares(net_delta, expected):
    assert BandPolicy(band_shares=100.0).hedge_quantity(net_delta, NOW, None) == expected


@pytest.mark.parametrize(
    ("net_delta", "expected"),
    [(6_540.0, -6_500.0), (6_560.0, -6_600.0), (-349.0, 300.0), (-351.0, 400.0)],
)
def test_band_policy_outside_band_rounds_to_the_nearest_lot(net_delta, expected):
    policy = BandPolicy(band_shares=100.0, lot_size=100.0)
    assert policy.hedge_quantity(net_delta, NOW, None) == expected


def test_band_policy_quantity_rounding_to_zero_lots_trades_nothing():
    # Band 10 < half a lot: 40 shares out is outside the band but rounds to 0 lots.
    policy = BandPolicy(band_shares=10.0, lot_size=100.0)
    assert policy.hedge_quantity(40.0, NOW, None) == 0.0
    assert policy.hedge_quantity(-49.0, NOW, None) == 0.0
    assert policy.hedge_quantity(51.0, NOW, None) == -100.0


def test_band_policy_nonzero_target_trades_back_to_the_target():
    policy = BandPolicy(band_shares=100.0, target_delta=-1_000.0)
    assert policy.hedge_quantity(-1_050.0, NOW, None) == 0.0
    assert policy.hedge_quantity(0.0, NOW, None) == -1_000.0
    assert policy.hedge_quantity(-2_500.0, NOW, None) == 1_500.0


def test_band_policy_nonzero_target_band_is_around_the_target_not_zero():
    policy = BandPolicy(band_shares=100.0, target_delta=5_000.0)
    # |0 − 5000| is far outside the band although net delta is flat.
    assert policy.hedge_quantity(0.0, NOW, None) == 5_000.0
    assert policy.hedge_quantity(5_080.0, NOW, None) == 0.0


def test_band_policy_min_interval_blocks_an_order_within_the_interval():
    policy = BandPolicy(band_shares=100.0, min_interval_ns=SECOND)
    last_order = NOW - SECOND + 1
    assert policy.hedge_quantity(1_000.0, NOW, last_order) == 0.0


@pytest.mark.parametrize("elapsed_ns", [SECOND, SECOND + 1, 3_600 * SECOND])
def test_band_policy_min_interval_allows_an_order_at_or_after_the_interval(elapsed_ns):
    policy = BandPolicy(band_shares=100.0, min_interval_ns=SECOND)
    assert policy.hedge_quantity(1_000.0, NOW, NOW - elapsed_ns) == -1_000.0


def test_band_policy_min_interval_does_not_apply_before_the_first_order():
    policy = BandPolicy(band_shares=100.0, min_interval_ns=3_600 * SECOND)
    assert policy.hedge_quantity(1_000.0, NOW, None) == -1_000.0


def test_band_policy_zero_band_hedges_any_whole_lot_away():
    policy = BandPolicy(band_shares=0.0)
    assert policy.hedge_quantity(0.0, NOW, None) == 0.0
    assert policy.hedge_quantity(2.0, NOW, None) == -2.0


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
    ],
    ids=repr,
)
def test_band_policy_invalid_construction_raises(arguments):
    with pytest.raises(ValueError, match="invalid band policy"):
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
    quantity = policy.hedge_quantity(net_delta, NOW, None)
    lots_traded = round(quantity / policy.lot_size)
    assert quantity == float(lots_traded * policy.lot_size)


@PROPERTIES
@given(policy=policies(), net_delta=deltas)
def test_band_policy_order_leaves_net_delta_within_half_a_lot_of_target(policy, net_delta):
    quantity = policy.hedge_quantity(net_delta, NOW, None)
    assume(quantity != 0.0)
    residual = net_delta + quantity - policy.target_delta
    tolerance = slack(net_delta, quantity, policy.target_delta)
    assert abs(residual) <= policy.lot_size / 2 + tolerance


@PROPERTIES
@given(policy=policies(), net_delta=deltas)
def test_band_policy_order_never_moves_net_delta_away_from_target(policy, net_delta):
    quantity = policy.hedge_quantity(net_delta, NOW, None)
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
    quantity = policy.hedge_quantity(net_delta, NOW, None)
    distance = abs(net_delta - policy.target_delta)
    tolerance = slack(net_delta, policy.target_delta)
    if distance <= policy.band_shares:
        assert quantity == 0.0
    elif distance > policy.lot_size / 2 + tolerance:
        assert quantity != 0.0
    elif distance < policy.lot_size / 2 - tolerance:
        assert quantity == 0.0


@PROPERTIES
@given(
    policy=policies(),
    net_delta=deltas,
    interval_ns=st.integers(min_value=0, max_value=10 * SECOND),
    elapsed_ns=st.integers(min_value=0, max_value=20 * SECOND),
)
def test_band_policy_min_interval_gates_but_never_changes_the_quantity(
    policy, net_delta, interval_ns, elapsed_ns
):
    gated = BandPolicy(
        policy.band_shares, policy.target_delta, policy.lot_size, min_interval_ns=interval_ns
    )
    quantity = gated.hedge_quantity(net_delta, NOW, NOW - elapsed_ns)
    if elapsed_ns < interval_ns:
        assert quantity == 0.0
    else:
        assert quantity == policy.hedge_quantity(net_delta, NOW, None)
