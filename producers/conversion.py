"""One row of a vendor recording (column name → value) as wire messages.

Each wire field (`type symbol ts bid ask last vol expiry strike fill_id book instrument
side qty price order_id fee multiplier`) is read from the column of the same name, or from
the column a `mapping` names (`{"symbol": "ric", "ts": "time"}`), and `ts` is converted to
integer nanoseconds by `producers.timestamps` with the unit and time zone given. A row's
type is its `type` column when there is one; otherwise a row with a `fill_id` is a fill, a
row with a bid, ask or last is a tick (and also a vol message when it has a vol), and a
row with only a vol is a vol message. Empty cells, nulls and NaN are missing values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from producers.timestamps import parse_timestamp, zone

if TYPE_CHECKING:
    from producers.recording import ReadOptions

_TICK_FIELDS = ("symbol", "ts", "bid", "ask", "last")
_VOL_FIELDS = ("symbol", "ts", "vol", "expiry", "strike")
_FILL_FIELDS: tuple[str, ...] = ("fill_id", "book", "instrument", "side", "qty", "price", "ts")
_FILL_FIELDS += ("order_id", "fee", "multiplier")
_QUOTE_FIELDS = ("symbol", "ts", "bid", "ask", "last")
_FIELDS_BY_TYPE = {"tick": _TICK_FIELDS, "vol": _VOL_FIELDS, "fill": _FILL_FIELDS}
_FIELDS_BY_TYPE["quote"] = _QUOTE_FIELDS
WIRE_FIELDS = ("type", *dict.fromkeys(f for fs in _FIELDS_BY_TYPE.values() for f in fs))
_TEXT_FIELDS = frozenset({"type", "symbol", "expiry", "fill_id", "book", "instrument", "side"})
_TEXT_FIELDS |= {"order_id"}


class RowConverter:
    """Turns one row (column name → value) into wire messages; see the module docstring."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options
        self._zone = zone(options.timezone)

    def messages(self, row: Mapping[str, Any]) -> list[bytes]:
        """The wire messages of `row`; ValueError (TimestampError among them) says why
        there are none."""
        values = {name: self._value(row, name) for name in WIRE_FIELDS}
        if values["symbol"] is None:
            values["symbol"] = self.options.default_symbol
        if values["ts"] is None:
            raise ValueError(f"no timestamp (column {self._column('ts')!r} is missing or empty)")
        values["ts"] = parse_timestamp(values["ts"], self.options.ts_unit, self._zone)
        kinds = _kinds(values)
        return [_message(kind, values) for kind in kinds]

    def _column(self, name: str) -> str:
        return self.options.mapping.get(name, name)

    def _value(self, row: Mapping[str, Any], name: str) -> Any:
        value = _present(row.get(self._column(name)))
        if value is None or name == "ts" or name in _TEXT_FIELDS:
            return value if not isinstance(value, str) else value.strip()
        return _number(value)


def _kinds(values: Mapping[str, Any]) -> list[str]:
    stated = values["type"]
    if stated is not None:
        return [str(stated)]
    if values["fill_id"] is not None:
        return ["fill"]
    has_price = any(values[name] is not None for name in ("bid", "ask", "last"))
    kinds = (["tick"] if has_price else []) + (["vol"] if values["vol"] is not None else [])
    if not kinds:
        raise ValueError("the row has no bid, ask, last, vol or fill_id to send")
    return kinds


def _message(kind: str, values: Mapping[str, Any]) -> bytes:
    fields = _FIELDS_BY_TYPE.get(kind, ())
    message = {"type": kind} | {name: values[name] for name in fields if values[name] is not None}
    return orjson.dumps(message)


def _present(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _number(value: Any) -> Any:
    """Numbers stay numbers (whole ones as int); numeric text becomes a number; other text
    stays text, for the codec to refuse with its reason."""
    if isinstance(value, Decimal):
        value = float(value)
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if not isinstance(value, str):
        return value
    try:
        number = float(value)
    except ValueError:
        return value
    return int(number) if number.is_integer() and "." not in value else number


def printable(row: Mapping[str, Any]) -> dict[str, Any]:
    """`row` as a JSON object, every value a number or text."""
    return {str(k): v if isinstance(v, int | float | str) else str(v) for k, v in row.items()}
