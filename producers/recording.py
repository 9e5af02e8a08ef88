"""Reading recorded feeds (JSONL, CSV, Parquet) as wire messages, one `SourceLine` each.

A JSONL file of wire messages (the bundled recording, `hedger.orders` dumps, fills files)
is read line by line and passed through byte for byte. Anything else is converted row by
row: each wire field (`type symbol ts bid ask last vol expiry strike fill_id book
instrument side qty price order_id fee multiplier`) is read from the column of the same
name, or from the column a `mapping` names (`{"symbol": "ric", "ts": "time"}`), and `ts`
is converted to integer nanoseconds by `producers.timestamps` with the unit and time zone
given. A row's type is its `type` column when there is one; otherwise a row with a
`fill_id` is a fill, a row with a bid, ask or last is a tick (and also a vol message when
it has a vol), and a row with only a vol is a vol message. Empty cells, nulls and NaN are
missing values. JSONL is converted too when a mapping, a time unit other than `auto`, a
time zone or a default symbol is given.

The messages are not validated here: the replayer checks them with the codec, so a bad
price is reported with the hedger's own reason. A row that cannot be converted at all (no
readable timestamp, nothing to send) becomes a `SourceLine` with an `error`.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from producers.timestamps import (
    UNITS,
    EpochNs,
    TimestampError,
    parse_timestamp,
    wall_ns_to_utc,
    zone,
)

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
_SUFFIXES |= {".parquet": "parquet", ".pq": "parquet"}
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
_PARQUET_BATCH_ROWS = 65_536


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read a recording; the defaults read wire-format JSONL as it is."""

    mapping: Mapping[str, str] = field(default_factory=dict)
    ts_unit: str = "auto"
    timezone: str = "UTC"
    default_symbol: str | None = None
    file_format: str | None = None

    def __post_init__(self) -> None:
        unknown = sorted(set(self.mapping) - set(WIRE_FIELDS))
        if unknown:
            raise ValueError(f"cannot map {unknown}: wire fields are {', '.join(WIRE_FIELDS)}")
        if self.file_format is not None and self.file_format not in FORMATS:
            raise ValueError(f"format {self.file_format!r} is not one of {', '.join(FORMATS)}")
        if self.ts_unit not in UNITS:
            raise ValueError(f"time unit {self.ts_unit!r} is not one of {', '.join(UNITS)}")
        zone(self.timezone)

    @property
    def converts_jsonl(self) -> bool:
        """False when JSONL lines can be forwarded untouched."""
        return bool(
            self.mapping
            or self.ts_unit != "auto"
            or self.timezone != "UTC"
            or self.default_symbol is not None
        )


@dataclass(frozen=True, slots=True)
class SourceLine:
    """One wire message read from a recording; `number` is the line (text) or row (Parquet,
    from 1) it came from. `error` says why a row could not be converted (`value` is then the
    row as JSON, so it can still be forwarded to exercise the hedger's dead-letter path)."""

    number: int
    value: bytes
    error: str | None = None


def detect_format(path: Path, file_format: str | None = None) -> str:
    """The format named, or the one the file's suffix implies."""
    if file_format is not None:
        return file_format
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"cannot tell the format of {path.name}; pass one of {FORMATS}")
    return found


def count_rows(path: Path, options: ReadOptions) -> int:
    """How many rows the recording holds (lines of a text file less a CSV header)."""
    file_format = detect_format(path, options.file_format)
    if file_format == "parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as source:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: source.read(1 << 20), b""))
    return lines - 1 if file_format == "csv" else lines


def read_recording(path: Path, options: ReadOptions | None = None) -> Iterator[SourceLine]:
    """Every message of the recording at `path`, in file order (blank lines skipped)."""
    options = options or ReadOptions()
    file_format = detect_format(path, options.file_format)
    converter = RowConverter(options)
    if file_format == "jsonl":
        yield from _jsonl(path, converter if options.converts_jsonl else None)
    elif file_format == "csv":
        yield from _csv(path, converter)
    else:
        yield from _parquet(path, converter)


class RowConverter:
    """Turns one row (column name → value) into wire messages; see the module docstring."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options
        self._zone = zone(options.timezone)

    def lines(self, number: int, row: Mapping[str, Any]) -> list[SourceLine]:
        try:
            return [SourceLine(number, message) for message in self.messages(row)]
        except (TimestampError, ValueError) as exc:
            return [SourceLine(number, orjson.dumps(_printable(row)), str(exc))]

    def messages(self, row: Mapping[str, Any]) -> list[bytes]:
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


def _printable(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): v if isinstance(v, int | float | str) else str(v) for k, v in row.items()}


def _jsonl(path: Path, converter: RowConverter | None) -> Iterator[SourceLine]:
    with path.open("rb") as source:
        for number, raw in enumerate(source, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            if converter is None:
                yield SourceLine(number, line)
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                row = None
            if not isinstance(row, dict):
                yield SourceLine(number, line, "not_json: the line is not a JSON object")
                continue
            yield from converter.lines(number, row)


def _csv(path: Path, converter: RowConverter) -> Iterator[SourceLine]:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.DictReader(source)
        for row in reader:
            yield from converter.lines(reader.line_num, row)


def _parquet(path: Path, converter: RowConverter) -> Iterator[SourceLine]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_PARQUET_BATCH_ROWS):
        names = batch.schema.names
        columns = {name: _parquet_column(batch.column(name), converter) for name in names}
        for index in range(batch.num_rows):
            number += 1
            yield from converter.lines(number, {name: col[index] for name, col in columns.items()})


def _parquet_column(column: Any, converter: RowConverter) -> list[Any]:
    """Python values of a column; typed timestamps become exact `EpochNs` (naive ones read
    as wall times in the configured zone), so no unit option can misread them."""
    import pyarrow as pa

    if not pa.types.is_timestamp(column.type):
        return list(column.to_pylist())
    nanos = column.cast(pa.timestamp("ns", column.type.tz)).cast(pa.int64()).to_pylist()
    if column.type.tz is not None:
        return [None if n is None else EpochNs(n) for n in nanos]
    zone_of_column: dt.tzinfo = zone(converter.options.timezone)
    return [None if n is None else EpochNs(wall_ns_to_utc(n, zone_of_column)) for n in nanos]
