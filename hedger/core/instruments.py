"""Instrument identifiers: OCC/OSI option symbology, underlying tickers, expiry time.

An OCC option symbol is ``ROOT`` left-justified to 6 characters with spaces, ``YYMMDD``
expiry, ``C`` or ``P``, and the strike × 1000 as 8 digits: ``"XYZ   261218C00100000"``
is the XYZ 18 Dec 2026 100.0 call. The compact form without the padding spaces
(``"XYZ261218C00100000"``) is accepted on input; ``OptionContract.occ_symbol`` always
gives the padded canonical form.

The symbol's two-digit year is read in the century that puts it nearest the event time
it comes with (a fill's, a quote's, an order's): ``99`` is 1999 on a fill of 1998 and
``00`` is 2000 on one of 1999; a tie, 50 years either way, goes to the later century.
Listed options expire within a few years of their trades, so the nearest is the one meant.

Time is integer nanoseconds since the Unix epoch, UTC. Year fractions are ACT/365 fixed
calendar time, the same convention as ``hedger.core.greeks``.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt

NANOS_PER_SECOND = 1_000_000_000
NANOS_PER_YEAR = 365 * 86_400 * NANOS_PER_SECOND
# Product defaults for when a listed option stops trading; the shell's config may
# override them.
DEFAULT_EXPIRY_TIME = datetime.time(16, 0)
DEFAULT_EXPIRY_TIMEZONE = "America/New_York"

_ROOT_WIDTH = 6
_TAIL_WIDTH = 15  # YYMMDD + C/P + 8 strike digits
_STRIKE_SCALE = 1000
_MAX_STRIKE_UNITS = 99_999_999
# re.ASCII: str.isdigit and \d also accept non-ASCII digits, which OCC does not.
_ROOT = re.compile(r"[A-Z0-9.]{1,6}", re.ASCII)
_DATE = re.compile(r"[0-9]{6}", re.ASCII)
_STRIKE = re.compile(r"[0-9]{8}", re.ASCII)
_TICKER = re.compile(r"[A-Z][A-Z0-9.\-]{0,9}", re.ASCII)
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_LAST_MICROSECOND = (datetime.datetime(9899, 12, 31, tzinfo=datetime.UTC) - _EPOCH) // (
    datetime.timedelta(microseconds=1)
)


class InstrumentError(ValueError):
    """An instrument identifier that cannot be understood; the message says why."""


@dataclass(frozen=True, slots=True)
class OptionContract:
    """A listed option: root, expiry date, call or put, strike in currency per share."""

    root: str
    expiry: datetime.date
    is_call: bool
    strike: float

    def __post_init__(self) -> None:
        # Validated here so every contract, however built, has a valid OCC symbol.
        _check_root(self.root)
        _strike_units(self.strike)

    @property
    def occ_symbol(self) -> str:
        """Canonical 21-character OCC symbol, e.g. ``"XYZ   261218C00100000"``."""
        option_type = "C" if self.is_call else "P"
        return (
            f"{self.root.ljust(_ROOT_WIDTH)}{self.expiry:%y%m%d}"
            f"{option_type}{_strike_units(self.strike):08d}"
        )


def parse_occ(symbol: str, near_ns: int) -> OptionContract:
    """Parse a padded (21-character) or compact (no spaces) OCC option symbol that came
    with an event at `near_ns` (its two-digit year is read in the century nearest it).

    Raises InstrumentError naming the part that is wrong.
    """
    root, tail = _split_occ(symbol)
    _check_root(root, symbol)
    date_text, option_type, strike_text = tail[:6], tail[6], tail[7:]
    expiry = _parse_date(date_text, symbol, near_ns)
    if option_type not in ("C", "P"):
        raise InstrumentError(
            f"OCC symbol {symbol!r}: option type must be 'C' or 'P', got {option_type!r}"
        )
    strike = _parse_strike(strike_text, symbol)
    return OptionContract(root=root, expiry=expiry, is_call=option_type == "C", strike=strike)


def is_underlying_symbol(symbol: str) -> bool:
    """True for a plain equity/ETF ticker: 1–10 of A–Z, 0–9, '.', '-', starting A–Z."""
    # At most 10 characters, so never an OCC symbol (16 at the least).
    return _TICKER.fullmatch(symbol) is not None


def parse_instrument(symbol: str, near_ns: int) -> OptionContract | str:
    """An OCC option symbol gives an OptionContract (its year read near `near_ns`, the
    event time it came with); an underlying ticker gives itself."""
    if is_underlying_symbol(symbol):
        return symbol
    try:
        return parse_occ(symbol, near_ns)
    except InstrumentError as error:
        raise InstrumentError(
            f"unknown instrument {symbol!r}: not an underlying ticker, and as an OCC option "
            f"symbol: {error}"
        ) from error


def expiry_instant_ns(expiry: datetime.date, time_of_day: datetime.time, tz: ZoneInfo) -> int:
    """Nanoseconds since the epoch (UTC) of ``time_of_day`` in ``tz`` on ``expiry``.

    The product default is 16:00 America/New_York (``DEFAULT_EXPIRY_TIME``,
    ``DEFAULT_EXPIRY_TIMEZONE``). A wall time in a DST gap or fold resolves with
    ``fold=0``. Exact integer arithmetic.
    """
    if time_of_day.tzinfo is not None:
        raise ValueError("time_of_day must be naive; the zone is given by tz")
    instant = datetime.datetime.combine(expiry, time_of_day, tzinfo=tz)
    elapsed = instant - _EPOCH
    return (elapsed // datetime.timedelta(microseconds=1)) * 1000


def year_fraction(start_ns: int, end_ns: int) -> float:
    """ACT/365 fixed years from ``start_ns`` to ``end_ns``; negative if end is earlier."""
    return (end_ns - start_ns) / NANOS_PER_YEAR


def year_fractions(start_ns: int, end_ns: npt.NDArray[np.int64]) -> npt.NDArray[np.float64]:
    """Vectorised ``year_fraction`` from one start to an int64 array of ends."""
    ends = np.asarray(end_ns)
    if ends.dtype != np.int64:
        raise ValueError(f"end_ns must be int64 nanoseconds, got dtype {ends.dtype}")
    # Subtract in integers first: float64 cannot hold epoch nanoseconds exactly.
    elapsed = (ends - np.int64(start_ns)).astype(np.float64)
    return elapsed / float(NANOS_PER_YEAR)


def _split_occ(symbol: str) -> tuple[str, str]:
    if " " in symbol:
        if len(symbol) != _ROOT_WIDTH + _TAIL_WIDTH:
            raise InstrumentError(
                f"OCC symbol {symbol!r} has length {len(symbol)}; the padded form has 21"
            )
        root = symbol[:_ROOT_WIDTH].rstrip(" ")
        if " " in root or " " in symbol[_ROOT_WIDTH:]:
            raise InstrumentError(
                f"OCC symbol {symbol!r}: spaces are only allowed as padding after the root"
            )
        return root, symbol[_ROOT_WIDTH:]
    if len(symbol) <= _TAIL_WIDTH:
        raise InstrumentError(
            f"OCC symbol {symbol!r} has length {len(symbol)}; expected ROOT (1 to 6) + "
            f"YYMMDD + C/P + 8 strike digits, 16 to 21 characters"
        )
    return symbol[:-_TAIL_WIDTH], symbol[-_TAIL_WIDTH:]


def _check_root(root: str, symbol: str | None = None) -> None:
    if _ROOT.fullmatch(root) is None:
        where = f"OCC symbol {symbol!r}: " if symbol is not None else ""
        raise InstrumentError(
            f"{where}root {root!r} must be 1 to 6 characters of uppercase A-Z, 0-9 or '.'"
        )


def nearest_year(two_digits: int, near_year: int) -> int:
    """The year ending in `two_digits` nearest `near_year`; a tie goes to the later."""
    same_century = near_year - near_year % 100 + two_digits
    candidates = (same_century - 100, same_century, same_century + 100)
    return min(candidates, key=lambda year: (abs(year - near_year), -year))


def _year_at(ts_ns: int) -> int:
    # datetime stops at 9999 and the century after is looked at too: a later (absurd)
    # event time reads as 9899.
    microseconds = min(ts_ns // 1000, _LAST_MICROSECOND)
    return (_EPOCH + datetime.timedelta(microseconds=microseconds)).year


def _parse_date(text: str, symbol: str, near_ns: int) -> datetime.date:
    if _DATE.fullmatch(text) is None:
        raise InstrumentError(f"OCC symbol {symbol!r}: expiry {text!r} must be 6 digits YYMMDD")
    year = nearest_year(int(text[:2]), _year_at(near_ns))
    try:
        return datetime.date(year, int(text[2:4]), int(text[4:]))
    except ValueError as error:
        raise InstrumentError(
            f"OCC symbol {symbol!r}: expiry {text!r} is not a calendar date YYMMDD ({error})"
        ) from error


def _parse_strike(text: str, symbol: str) -> float:
    if _STRIKE.fullmatch(text) is None:
        raise InstrumentError(
            f"OCC symbol {symbol!r}: strike {text!r} must be 8 digits (strike × 1000)"
        )
    units = int(text)
    if units == 0:
        raise InstrumentError(f"OCC symbol {symbol!r}: strike must be positive, got 0")
    return units / _STRIKE_SCALE


def _strike_units(strike: float) -> int:
    units = round(strike * _STRIKE_SCALE) if math.isfinite(strike) else 0
    if not 0 < units <= _MAX_STRIKE_UNITS or abs(units - strike * _STRIKE_SCALE) > 1e-6:
        raise InstrumentError(
            f"strike {strike!r} must be positive, below 100000 and a multiple of 0.001"
        )
    return units
