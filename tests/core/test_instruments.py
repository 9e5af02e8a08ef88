"""hedger.core.instruments: OCC symbology, instrument parsing, expiry instants, year fractions."""

from __future__ import annotations

import calendar
import datetime
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.instruments import (
    DEFAULT_EXPIRY_TIME,
    DEFAULT_EXPIRY_TIMEZONE,
    NANOS_PER_YEAR,
    InstrumentError,
    OptionContract,
    expiry_instant_ns,
    is_underlying_symbol,
    parse_instrument,
    parse_occ,
    year_fraction,
    year_fractions,
)

NEW_YORK = ZoneInfo(DEFAULT_EXPIRY_TIMEZONE)
XYZ_CALL = OptionContract(
    root="XYZ", expiry=datetime.date(2026, 12, 18), is_call=True, strike=100.0
)


def utc_ns(*fields: int) -> int:
    # calendar.timegm is an oracle independent of zoneinfo.
    return calendar.timegm((*fields, 0, 0, 0)) * 1_000_000_000


# The event time the symbols of these tests come with: their years are read in its century.
NEAR_NS = utc_ns(2026, 6, 1)


def test_parse_occ_padded_symbol_gives_contract() -> None:
    assert parse_occ("XYZ   261218C00100000", NEAR_NS) == XYZ_CALL


def test_parse_occ_compact_symbol_gives_same_contract() -> None:
    assert parse_occ("XYZ261218C00100000", NEAR_NS) == XYZ_CALL


def test_occ_symbol_contract_gives_padded_21_characters() -> None:
    assert XYZ_CALL.occ_symbol == "XYZ   261218C00100000"
    assert len(XYZ_CALL.occ_symbol) == 21


@pytest.mark.parametrize(
    ("symbol", "root", "is_call", "strike"),
    [
        ("SPY   270115P00450500", "SPY", False, 450.5),
        ("BRK.B 261218C00000125", "BRK.B", True, 0.125),
        ("ABCDEF261218P99999999", "ABCDEF", False, 99999.999),
        ("X     261218C00001000", "X", True, 1.0),
    ],
)
def test_parse_occ_padded_symbol_round_trips(
    symbol: str, root: str, is_call: bool, strike: float
) -> None:
    contract = parse_occ(symbol, NEAR_NS)

    assert (contract.root, contract.is_call, contract.strike) == (root, is_call, strike)
    assert contract.occ_symbol == symbol
    assert parse_occ(symbol.replace(" ", ""), NEAR_NS) == contract


roots = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.", min_size=1, max_size=6)
expiry_dates = st.dates(min_value=datetime.date(1901, 1, 1), max_value=datetime.date(2198, 12, 31))
strike_units = st.integers(min_value=1, max_value=99_999_999)


@settings(max_examples=300, deadline=None)
@given(roots, expiry_dates, st.booleans(), strike_units)
def test_occ_symbol_any_contract_round_trips_through_both_forms(
    root: str, expiry: datetime.date, is_call: bool, units: int
) -> None:
    contract = OptionContract(root=root, expiry=expiry, is_call=is_call, strike=units / 1000)
    traded_ns = utc_ns(expiry.year - 1, 6, 30)  # months or years before: a listed option

    assert parse_occ(contract.occ_symbol, traded_ns) == contract
    assert parse_occ(contract.occ_symbol.replace(" ", ""), traded_ns) == contract
    assert contract.occ_symbol[-8:] == f"{units:08d}"


@pytest.mark.parametrize(
    ("traded", "expiry_text", "year"),
    [
        ((1998, 7, 15), "990115", 1999),
        ((1999, 7, 15), "000121", 2000),
        ((2000, 1, 3), "991217", 1999),
        ((1970, 1, 2), "691219", 1969),
        ((1970, 1, 2), "700116", 1970),
        ((2069, 6, 1), "691219", 2069),
        ((2069, 6, 1), "700116", 2070),
        ((2026, 6, 1), "270115", 2027),
        ((2026, 6, 1), "770115", 1977),  # 49 years back, 51 ahead
        ((2026, 6, 1), "760116", 2076),  # 50 either way: the later
    ],
)
def test_parse_occ_reads_the_two_digit_year_in_the_century_nearest_the_event(
    traded: tuple[int, int, int], expiry_text: str, year: int
) -> None:
    contract = parse_occ(f"XYZ   {expiry_text}C00100000", utc_ns(*traded))

    assert contract.expiry.year == year


def test_parse_occ_february_29_is_a_date_only_in_a_leap_century_year() -> None:
    assert parse_occ("XYZ   000229C00100000", utc_ns(1999, 6, 1)).expiry.year == 2000
    with pytest.raises(InstrumentError, match="not a calendar date"):
        parse_occ("XYZ   000229C00100000", utc_ns(2110, 6, 1))  # 2100


@pytest.mark.parametrize(
    ("symbol", "message"),
    [
        ("XYZ   261332C00100000", r"expiry '261332' is not a calendar date"),
        ("XYZ   260230C00100000", r"expiry '260230' is not a calendar date"),
        ("XYZ   2612X8C00100000", r"expiry '2612X8' must be 6 digits"),
        ("XYZ   261218C00000000", r"strike must be positive"),
        ("XYZ   261218C0010000A", r"strike '0010000A' must be 8 digits"),
        ("XYZ   261218X00100000", r"option type must be 'C' or 'P', got 'X'"),
        ("xyz   261218C00100000", r"root 'xyz' must be .* uppercase"),
        ("xyz261218C00100000", r"root 'xyz' must be .* uppercase"),
        ("ABCDEFG261218C00100000", r"root 'ABCDEFG' must be 1 to 6 characters"),
        ("XYZ  261218C00100000", r"has length 20; the padded form has 21"),
        ("XYZ    261218C00100000", r"has length 22; the padded form has 21"),
        (" XYZ  261218C00100000", r"spaces are only allowed as padding"),
        ("      261218C00100000", r"root '' must be 1 to 6"),
        ("261218C00100000", r"has length 15; expected ROOT"),
        ("", r"has length 0"),
    ],
)
def test_parse_occ_bad_symbol_raises_instrument_error_saying_why(symbol: str, message: str) -> None:
    with pytest.raises(InstrumentError, match=message):
        parse_occ(symbol, NEAR_NS)


def test_instrument_error_is_value_error() -> None:
    assert issubclass(InstrumentError, ValueError)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"strike": 100.0005}, "multiple of 0.001"),
        ({"strike": 0.0}, "must be positive"),
        ({"strike": float("nan")}, "must be positive"),
        ({"strike": 100_000.0}, "below 100000"),
        ({"root": "TOOLONG"}, "root 'TOOLONG'"),
    ],
)
def test_option_contract_unrepresentable_fields_raise(
    changes: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {
        "root": "XYZ",
        "expiry": datetime.date(2026, 12, 18),
        "is_call": True,
        "strike": 100.0,
    } | changes

    with pytest.raises(InstrumentError, match=message):
        OptionContract(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("symbol", ["XYZ", "A", "SPY", "BRK.B", "BF-B", "ABCDEFGHIJ", "QQQ3"])
def test_is_underlying_symbol_plain_ticker_gives_true(symbol: str) -> None:
    assert is_underlying_symbol(symbol)


@pytest.mark.parametrize(
    "symbol",
    [
        "",
        "xyz",
        "1ABC",
        ".XYZ",
        "ABCDEFGHIJK",
        "XY Z",
        "XYZ\n",
        "XYZ   261218C00100000",
        "XYZ261218C00100000",
    ],
)
def test_is_underlying_symbol_anything_else_gives_false(symbol: str) -> None:
    assert not is_underlying_symbol(symbol)


def test_parse_instrument_occ_symbol_gives_contract() -> None:
    assert parse_instrument("XYZ   261218C00100000", NEAR_NS) == XYZ_CALL


def test_parse_instrument_ticker_gives_symbol_string() -> None:
    assert parse_instrument("XYZ", NEAR_NS) == "XYZ"


@pytest.mark.parametrize("symbol", ["xyz", "", "XYZ   261332C00100000", "NOT A SYMBOL"])
def test_parse_instrument_unknown_raises_instrument_error(symbol: str) -> None:
    with pytest.raises(InstrumentError, match=r"unknown instrument"):
        parse_instrument(symbol, NEAR_NS)


def test_parse_instrument_bad_option_error_keeps_occ_reason() -> None:
    with pytest.raises(InstrumentError, match=r"unknown instrument .*not a calendar date"):
        parse_instrument("XYZ   261332C00100000", NEAR_NS)


def test_expiry_instant_ns_december_new_york_close_gives_2100_utc() -> None:
    instant = expiry_instant_ns(datetime.date(2026, 12, 18), DEFAULT_EXPIRY_TIME, NEW_YORK)

    assert instant == utc_ns(2026, 12, 18, 21)
    assert instant == 1_797_627_600_000_000_000


def test_expiry_instant_ns_july_new_york_close_gives_2000_utc() -> None:
    instant = expiry_instant_ns(datetime.date(2026, 7, 17), DEFAULT_EXPIRY_TIME, NEW_YORK)

    assert instant == utc_ns(2026, 7, 17, 20)


def test_expiry_instant_ns_sub_second_time_is_exact() -> None:
    time_of_day = datetime.time(16, 0, 0, 1)

    instant = expiry_instant_ns(datetime.date(2026, 12, 18), time_of_day, NEW_YORK)

    assert instant == utc_ns(2026, 12, 18, 21) + 1_000


def test_expiry_instant_ns_aware_time_raises() -> None:
    aware = datetime.time(16, 0, tzinfo=datetime.UTC)

    with pytest.raises(ValueError, match="naive"):
        expiry_instant_ns(datetime.date(2026, 12, 18), aware, NEW_YORK)


def test_year_fraction_365_days_gives_one_year() -> None:
    start = utc_ns(2026, 1, 1, 0)

    assert year_fraction(start, start + 365 * 86_400 * 10**9) == 1.0
    assert NANOS_PER_YEAR == 365 * 86_400 * 10**9


def test_year_fraction_end_before_start_gives_negative() -> None:
    start = utc_ns(2026, 1, 1, 0)

    assert year_fraction(start, start - NANOS_PER_YEAR // 2) == -0.5


def test_year_fractions_array_matches_scalar_form() -> None:
    start = utc_ns(2026, 1, 1, 0)
    ends = np.array([start - 86_400 * 10**9, start, start + 7, start + 3 * NANOS_PER_YEAR])

    fractions = year_fractions(start, ends)

    assert fractions.dtype == np.float64
    np.testing.assert_allclose(
        fractions, [year_fraction(start, int(end)) for end in ends], rtol=1e-15, atol=0.0
    )


def test_year_fractions_float_ends_raise() -> None:
    with pytest.raises(ValueError, match="int64"):
        year_fractions(0, np.array([1.5e18]))
