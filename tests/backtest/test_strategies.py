"""Strategy specs and the engine configuration each strategy runs with."""

from __future__ import annotations

import dataclasses
import math

import pytest

from hedger.backtest.strategies import (
    DYNAMIC,
    NO_HEDGE,
    STATIC_HEDGE,
    configured_strategy,
    describe_duration,
    engine_config_for,
    parse_duration_ns,
    parse_policy,
)
from hedger.core.decisions import BookSetup
from hedger.core.policy import BandPolicy
from tests.backtest import scenario as sc

BASE = BandPolicy(band_shares=100.0, lot_size=10.0, min_interval_ns=10**9)


@pytest.mark.parametrize(
    ("text", "ns"),
    [("250ms", 250 * 10**6), ("90s", 90 * 10**9), ("1.5h", 5400 * 10**9), ("1d", 86_400 * 10**9)],
)
def test_parse_duration_units(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


def test_parse_duration_bare_number_is_nanoseconds_and_garbage_refused() -> None:
    assert parse_duration_ns("1500") == 1500
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ns("soon")


def test_describe_duration_largest_whole_unit() -> None:
    assert [describe_duration(n) for n in (86_400 * 10**9, 5400 * 10**9, 1500, 0)] == [
        "1d",
        "90m",
        "1500ns",
        "0ns",
    ]


def test_parse_policy_aliases_and_defaults_from_configured_policy() -> None:
    strategy = parse_policy("band=500, interval=5m, every=1h", BASE)
    assert strategy.kind == DYNAMIC
    assert strategy.policy == BandPolicy(
        band_shares=500.0,
        lot_size=10.0,
        min_interval_ns=300 * 10**9,
        rebalance_every_ns=3600 * 10**9,
        name="band 500 every 1h min 5m",
    )
    assert strategy.name == "band 500 every 1h min 5m"


def test_parse_policy_any_field_by_name_and_a_chosen_name() -> None:
    strategy = parse_policy("band_shares=0,hedge_to=edge,name=tight", BASE)
    assert strategy.name == "tight"
    assert strategy.policy is not None
    assert (strategy.policy.band_shares, strategy.policy.hedge_to.value) == (0.0, "edge")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("band", "expected FIELD=VALUE"),
        ("colour=red", "expected FIELD=VALUE"),
        ("band=-5", "band_shares"),
        ("lot=0", "lot_size"),
    ],
)
def test_parse_policy_bad_spec_refused(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_policy(spec, BASE)


def test_engine_config_for_no_hedge_and_static_never_lets_the_engine_hedge() -> None:
    base = sc.engine_config(100.0)
    for strategy in (NO_HEDGE, STATIC_HEDGE):
        config = engine_config_for(strategy, base)
        assert config.policy.band_shares == math.inf
        assert (config.rate, config.default_vol) == (base.rate, base.default_vol)


def test_engine_config_for_dynamic_uses_its_policy_and_configured_keeps_base() -> None:
    base = sc.engine_config(100.0)
    strategy = parse_policy("band=7", base.policy)
    assert engine_config_for(strategy, base).policy == strategy.policy
    assert configured_strategy(base.policy).policy == base.policy


def test_strategies_override_books_own_setups_and_configured_keeps_them() -> None:
    own = BookSetup(policy=BandPolicy(band_shares=5.0, rebalance_every_ns=60 * 10**9))
    base = dataclasses.replace(sc.engine_config(100.0), books=(("mm-9", own),))
    never = engine_config_for(NO_HEDGE, base)
    assert dict(never.books)["mm-9"].policy.band_shares == math.inf
    dynamic = engine_config_for(parse_policy("band=7", base.policy), base)
    assert dict(dynamic.books)["mm-9"].policy.band_shares == 7.0
    assert engine_config_for(configured_strategy(base.policy), base) == base
