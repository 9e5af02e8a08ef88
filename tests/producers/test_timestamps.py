"""Every timestamp format a recording may use, against values computed by the standard library."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from producers.timestamps import (
    EpochNs,
    TimestampError,
    datetime_ns,
    parse_timestamp,
    wall_ns_to_utc,
    zone,
)

# 2026-11-20T14:30:00Z, from the standard library rather than our own code.
T0_S = int(dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC).timestamp())
T0_NS = T0_S * 10**9
NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("value", "unit"),
    [
        (T0_S, "s"),
        (T0_S * 10**3, "ms"),
        (T0_S * 10**6, "us"),
        (T0_NS, "ns"),
        (str(T0_S * 10**3), "ms"),
    ],
)
def test_parse_timestamp_epoch_in_named_unit_gives_nanoseconds(value: object, unit: str) -> None:
    assert parse_timestamp(value, unit) == T0_NS


@pytest.mark.parametrize("multiplier", [1, 10**3, 10**6, 10**9])
def test_parse_timestamp_auto_reads_unit_from_magnitude(multiplier: int) -> None:
    assert parse_timestamp(T0_S * multiplier) == T0_NS


def test_parse_timestamp_fractional_seconds_text_exact_to_nanosecond() -> None:
    assert parse_timestamp(f"{T0_S}.123456789", "s") == T0_NS + 123_456_789


def test_parse_timestamp_float_seconds_keeps_printed_digits() -> None:
    # 1795185000.25 is exact in binary; .1 is not, and must still give 100 ms, not 99.99...
    assert parse_timestamp(float(T0_S) + 0.25) == T0_NS + 250_000_000
    assert parse_timestamp(1795185000.1, "s") == T0_NS + 100_000_000


def test_parse_timestamp_decimal_milliseconds_exact() -> None:
    assert parse_timestamp(Decimal(T0_S * 1000) + Decimal("0.5"), "ms") == T0_NS + 500_000


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-20T14:30:00Z",
        "2026-11-20T14:30:00z",
        "2026-11-20 14:30:00+00:00",
        "2026-11-20T09:30:00-05:00",
        "2026-11-20T09:30:00-0500",
        "2026-11-20T16:30:00+02:00",
        "2026-11-20T14:30Z",
    ],
)
def test_parse_timestamp_iso_with_offset_gives_same_instant(text: str) -> None:
    assert parse_timestamp(text) == T0_NS
    assert parse_timestamp(text, "iso") == T0_NS


def test_parse_timestamp_iso_nine_fraction_digits_kept() -> None:
    assert parse_timestamp("2026-11-20T14:30:00.000000007Z") == T0_NS + 7
    assert parse_timestamp("2026-11-20T14:30:00,5Z") == T0_NS + 500_000_000


def test_parse_timestamp_iso_without_offset_read_in_given_zone() -> None:
    # 09:30 in New York on 20 Nov 2026 (EST, UTC-5) is 14:30 UTC.
    assert parse_timestamp("2026-11-20T09:30:00", timezone=NEW_YORK) == T0_NS
    assert parse_timestamp("2026-11-20T14:30:00") == T0_NS  # UTC by default


def test_parse_timestamp_iso_summer_time_uses_daylight_offset() -> None:
    expected = int(dt.datetime(2026, 7, 1, 13, 30, tzinfo=dt.UTC).timestamp()) * 10**9
    assert parse_timestamp("2026-07-01T09:30:00", "iso", NEW_YORK) == expected


def test_parse_timestamp_iso_date_only_is_midnight() -> None:
    expected = int(dt.datetime(2026, 11, 20, tzinfo=dt.UTC).timestamp()) * 10**9
    assert parse_timestamp("2026-11-20") == expected


def test_parse_timestamp_datetime_objects_naive_in_zone_aware_as_is() -> None:
    naive = dt.datetime(2026, 11, 20, 9, 30)
    aware = dt.datetime(2026, 11, 20, 14, 30, 0, 250, tzinfo=dt.UTC)
    assert parse_timestamp(naive, timezone=NEW_YORK) == T0_NS
    assert parse_timestamp(aware) == T0_NS + 250_000


def test_parse_timestamp_epoch_ns_marker_ignores_unit() -> None:
    assert parse_timestamp(EpochNs(T0_NS), "s") == T0_NS


@pytest.mark.parametrize(
    ("value", "unit", "message"),
    [
        ("yesterday", "auto", "not an ISO-8601"),
        ("2026-13-01T00:00:00Z", "iso", "month"),
        ("12:30", "s", "not a number"),
        (T0_S, "iso", "ISO-8601 text"),
        ("1.5", "ns", "whole number of nanoseconds"),
        (float("nan"), "s", "finite"),
        ("", "auto", "empty"),
        (True, "s", "number or text"),
        (T0_S, "minutes", "unit"),
        ("2026-11-20T14:30:00+25:00", "iso", "out of range"),
    ],
)
def test_parse_timestamp_bad_input_raises_with_reason(
    value: object, unit: str, message: str
) -> None:
    with pytest.raises(TimestampError, match=message):
        parse_timestamp(value, unit)


def test_zone_unknown_name_raises() -> None:
    with pytest.raises(TimestampError, match="unknown time zone"):
        zone("Mars/Olympus_Mons")


def test_wall_ns_to_utc_new_york_wall_time_shifted_by_offset() -> None:
    wall_ns = int(dt.datetime(2026, 11, 20, 9, 30, tzinfo=dt.UTC).timestamp()) * 10**9 + 42
    assert wall_ns_to_utc(wall_ns, NEW_YORK) == T0_NS + 42


def test_datetime_ns_matches_standard_library_timestamp() -> None:
    moment = dt.datetime(2031, 2, 3, 4, 5, 6, 789_012, tzinfo=dt.UTC)
    assert datetime_ns(moment) == round(moment.timestamp() * 1e6) * 1000
