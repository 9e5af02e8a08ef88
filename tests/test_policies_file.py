"""The policy file (HEDGER_POLICY_FILE): TOML tables to per-book setups, refusing bad input."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from hedger.config import ConfigError, Settings
from hedger.core.controls import BookLimits
from hedger.core.decisions import BookSetup
from hedger.core.option_hedge import GreekRanges
from hedger.core.policy import BandPolicy, BandWidth, HedgeTo
from hedger.core.throttle import RateLimit
from hedger.policy_file import parse_policy_file

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "policies.toml"
POLICIES_PAGE = Path(__file__).resolve().parents[1] / "docs" / "concepts" / "policies.md"
BASE = BookSetup(BandPolicy(band_shares=100.0, lot_size=1.0, min_interval_ns=1_000_000_000))
SECOND = 1_000_000_000


def parse(text: str) -> tuple[BookSetup, tuple[tuple[str, BookSetup], ...]]:
    return parse_policy_file(tomllib.loads(text), BASE)


def test_policy_file_example_gives_each_book_its_policy_and_limits():
    settings = Settings.from_env({"HEDGER_POLICY_FILE": str(EXAMPLE)})
    config = settings.engine_config()
    books = dict(config.books)
    assert config.limits.loss_limit == math.inf
    mm1, mm2 = books["mm-1"], books["mm-2"]
    assert mm1.policy.width is BandWidth.WHALLEY_WILMOTT
    assert (mm1.policy.cost_fraction, mm1.policy.risk_aversion) == (0.0005, 1.0)
    assert mm1.policy.hedge_to is HedgeTo.EDGE
    assert (mm1.policy.leland_cost, mm1.policy.leland_interval_ns) == (0.001, 60 * SECOND)
    assert mm1.policy.name == "whalley_wilmott"
    assert mm1.limits.loss_limit == 250_000.0
    ((underlying, gamma_vega),) = mm1.gamma_vega
    assert underlying == "XYZ"
    assert gamma_vega.targets == GreekRanges((-500.0, 500.0), (-2000.0, 2000.0))
    assert gamma_vega.options == ("XYZ   270115C00105000", "XYZ   270115P00095000")
    assert mm2.policy.rebalance_every_ns == 300 * SECOND
    assert mm2.policy.target_range == (-500.0, 500.0)
    assert mm2.policy.lot_size == 100.0


def test_policy_file_example_in_the_docs_is_the_example_file():
    # The policies page shows the example; both must parse to the same setups.
    text = POLICIES_PAGE.read_text(encoding="utf-8")
    start = text.index("```toml\n[default]") + len("```toml\n")
    block = text[start : text.index("```", start)]
    assert parse(block) == parse(EXAMPLE.read_text(encoding="utf-8"))


def test_policy_file_keys_left_out_keep_the_environment_values():
    default, books = parse("[books.mm-1]\nband_shares = 250\n")
    assert default == BASE
    assert dict(books)["mm-1"] == BookSetup(
        BandPolicy(band_shares=250.0, lot_size=1.0, min_interval_ns=SECOND)
    )


def test_policy_file_default_table_applies_to_books_without_their_own():
    default, books = parse(
        "[default]\nlot_size = 100\norders_per_minute = 12\n[books.mm-1]\norder_burst = 3\n"
    )
    assert default.policy.lot_size == 100.0
    assert default.limits.rate == RateLimit(12.0, 10.0)
    mm1 = dict(books)["mm-1"]
    assert mm1.policy.lot_size == 100.0
    assert mm1.limits.rate == RateLimit(12.0, 3.0)
    assert mm1.limits.max_order_shares == BookLimits().max_order_shares


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[books.mm-1]\nband_shars = 5\n", r"books\.mm-1: unknown key\(s\) \['band_shars'\]"),
        ("[books.mm-1]\nband = 'wide'\n", "books.mm-1: band"),
        ("[books.mm-1]\nband_shares = 'a lot'\n", "band_shares must be a number"),
        ("[books.mm-1]\nband_shares = -1\n", "band_shares must be >= 0"),
        ("[books.mm-1]\ntarget_delta = 0\ntarget_range = [-1, 1]\n", "not both"),
        ("[books.mm-1]\ntarget_range = [1]\n", r"target_range must be a \[low, high\] pair"),
        ("[books.mm-1]\nmax_order_shares = 0\n", "every limit must be positive"),
        ("[books.mm-1]\nleland_cost = 0.01\n", "leland_cost needs a rebalancing interval"),
        ("[default.gamma_vega.XYZ]\noptions = []\n", "configured per book"),
        ("[limits]\nx = 1\n", r"the file: unknown key\(s\) \['limits'\]"),
        (
            "[books.mm-1.gamma_vega.XYZ]\noptions = ['ABC   270115C00105000']\n"
            "gamma_range = [-1, 1]\nvega_range = [-1, 1]\n",
            "not a listed option on XYZ",
        ),
        (
            "[books.mm-1.gamma_vega.XYZ]\noptions = ['XYZ   270115C00105000']\n"
            "vega_range = [-1, 1]\n",
            r"gamma_range must be a \[low, high\] pair",
        ),
    ],
)
def test_policy_file_bad_content_names_the_table_and_key(text, message):
    with pytest.raises(ValueError, match=message):
        parse(text)


def test_policy_file_unreadable_or_not_toml_stops_the_service_at_start(tmp_path):
    broken = tmp_path / "policies.toml"
    broken.write_text("[books.mm-1\nband = 'shares'\n")
    with pytest.raises(ConfigError, match="HEDGER_POLICY_FILE"):
        Settings.from_env({"HEDGER_POLICY_FILE": str(broken)})
    with pytest.raises(ConfigError, match="HEDGER_POLICY_FILE"):
        Settings.from_env({"HEDGER_POLICY_FILE": str(tmp_path / "missing.toml")})
