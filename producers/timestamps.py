"""Timestamps of recorded feeds → integer nanoseconds since the Unix epoch, UTC (the wire's `ts`).

Accepted, per `unit`:

* `ns`, `us`, `ms`, `s`: a number (or numeric text) of that unit since the epoch; fractions
  are kept exactly (text and floats go through `Decimal`, so `1795185000.123456789` s is
  `1795185000123456789` ns, and a float keeps the digits it prints with).
* `iso`: ISO-8601 text, `2026-11-20T14:30:00.123456789Z`, with `T` or a space, up to nine
  fractional digits, an offset (`Z`, `+01:00`, `-0500`) or none; a plain date is midnight.
* `auto` (the default): text that is not a number is ISO-8601; a number's unit follows from
  its size: below 1e11 seconds, below 1e14 milliseconds, below 1e17 microseconds, else
  nanoseconds (so any date from 1973 to 5138 is read right in every unit).

Text without an offset, and naive timestamps from typed columns, are wall-clock times in
the `timezone` given (default UTC); the first of two ambiguous wall times (DST ending) is
taken. Anything else raises `TimestampError` saying what was wrong.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UNITS = ("auto", "iso", "s", "ms", "us", "ns")
NANOS_PER_UNIT = {"s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}
# Upper bounds of |value| read as each unit by `auto`, smallest unit last.
_AUTO_LIMITS = ((Decimal("1e11"), "s"), (Decimal("1e14"), "ms"), (Decimal("1e17"), "us"))
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)
_ISO = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})"
    r"(?:[T ](?P<time>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?:[.,](?P<fraction>[0-9]{1,9}))?)?"
    r"(?P<offset>Z|z|[+-][0-9]{2}:?[0-9]{2})?",
    re.ASCII,
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_NANOS_PER_SECOND = 10**9


class TimestampError(ValueError):
    """A timestamp that cannot be read in the unit asked for."""


class EpochNs(int):
    """A value already in nanoseconds since the epoch, UTC (from a typed timestamp column):
    read as is, whatever `unit` says."""


def zone(name: str) -> dt.tzinfo:
    """The time zone called `name` (IANA, e.g. `America/New_York`, or `UTC`)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimestampError(f"unknown time zone {name!r}") from None


def parse_timestamp(value: object, unit: str = "auto", timezone: dt.tzinfo = dt.UTC) -> int:
    """`value` as integer nanoseconds since the epoch, UTC; see the module docstring."""
    if unit not in UNITS:
        raise TimestampError(f"unit {unit!r} is not one of {', '.join(UNITS)}")
    if isinstance(value, EpochNs):
        return int(value)
    if isinstance(value, dt.datetime):
        return datetime_ns(value, timezone)
    if isinstance(value, str):
        return _from_text(value.strip(), unit, timezone)
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TimestampError(f"a timestamp must be a number or text, got {value!r}")
    if unit == "iso":
        raise TimestampError(f"unit iso needs ISO-8601 text, got the number {value!r}")
    return _from_number(_decimal(value), unit)


def datetime_ns(moment: dt.datetime, timezone: dt.tzinfo = dt.UTC) -> int:
    """Nanoseconds since the epoch of `moment` (naive: a wall time in `timezone`)."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone)
    since = aware - _EPOCH
    seconds = since.days * 86_400 + since.seconds
    return seconds * _NANOS_PER_SECOND + since.microseconds * 1_000


def wall_ns_to_utc(wall_ns: int, timezone: dt.tzinfo) -> int:
    """A naive wall-clock time in `timezone`, as nanoseconds since a naive epoch, in UTC."""
    seconds, nanos = divmod(wall_ns, _NANOS_PER_SECOND)
    wall = dt.datetime(1970, 1, 1) + dt.timedelta(seconds=seconds)
    return datetime_ns(wall, timezone) + nanos


def _decimal(value: int | float | Decimal) -> Decimal:
    if isinstance(value, float) and not math.isfinite(value):
        raise TimestampError(f"a timestamp must be finite, got {value!r}")
    # repr() of a float is its shortest round-tripping text: the digits the writer meant.
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def _from_text(text: str, unit: str, timezone: dt.tzinfo) -> int:
    if not text:
        raise TimestampError("the timestamp is empty")
    is_number = _NUMBER.fullmatch(text) is not None
    if unit == "iso" or (unit == "auto" and not is_number):
        return _from_iso(text, timezone)
    if not is_number:
        raise TimestampError(f"{text!r} is not a number of {unit}")
    try:
        return _from_number(Decimal(text), unit)
    except InvalidOperation:
        raise TimestampError(f"{text!r} is not a number of {unit}") from None


def _from_number(number: Decimal, unit: str) -> int:
    if unit == "auto":
        unit = next((u for limit, u in _AUTO_LIMITS if abs(number) < limit), "ns")
    nanos = number * NANOS_PER_UNIT[unit]
    if nanos != nanos.to_integral_value():
        raise TimestampError(f"{number} {unit} is not a whole number of nanoseconds")
    return int(nanos)


def _from_iso(text: str, timezone: dt.tzinfo) -> int:
    match = _ISO.fullmatch(text)
    if match is None:
        raise TimestampError(f"{text!r} is not an ISO-8601 time or a number")
    try:
        wall = dt.datetime.fromisoformat(f"{match['date']}T{match['time'] or '00:00'}")
    except ValueError as exc:
        raise TimestampError(f"{text!r}: {exc}") from None
    fraction_ns = int((match["fraction"] or "").ljust(9, "0"))
    offset = match["offset"]
    zone_of_text = timezone if offset is None else _offset(offset)
    return datetime_ns(wall, zone_of_text) + fraction_ns


def _offset(text: str) -> dt.tzinfo:
    if text in ("Z", "z"):
        return dt.UTC
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:])
    if hours > 23 or minutes > 59:
        raise TimestampError(f"offset {text!r} is out of range")
    sign = 1 if text[0] == "+" else -1
    return dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
