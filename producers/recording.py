"""Reading recorded feeds (JSONL, CSV, Parquet) as wire messages, one `SourceLine` each.

A JSONL file of wire messages (the bundled recording, `hedger.orders` dumps, fills files)
is passed through byte for byte, line by line. Anything else is converted row by
row, with a column mapping and a timestamp unit and zone (`producers.conversion`). JSONL is
converted too when a mapping, a time unit other than `auto`, a time zone or a default
symbol is given.

The messages are not validated here: the replayer checks them with the codec, so a bad
price is reported with the hedger's own reason. A row that cannot be converted at all (no
readable timestamp, nothing to send) becomes a `SourceLine` with an `error`.

`read_chunks` gives the same messages a few hundred at a time (`SourceChunk`): wire-format
JSONL is then read in blocks of whole lines, without an object per line, which is what
lets the replayer keep up with a bare producer.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from producers.conversion import WIRE_FIELDS, RowConverter, printable
from producers.timestamps import UNITS, EpochNs, TimestampError, wall_ns_to_utc, zone

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv"}
_SUFFIXES |= {".parquet": "parquet", ".pq": "parquet"}
_PARQUET_BATCH_ROWS = 65_536
CHUNK_ROWS = 512
# About 600 wire ticks: enough to spread per-chunk costs, small enough to pace smoothly.
_BLOCK_BYTES = 64 * 1024


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


@dataclass(frozen=True, slots=True)
class SourceChunk:
    """Consecutive messages of a recording: `values[i]` came from line (or row) `numbers[i]`;
    `errors` maps an index to why that row could not be converted (as `SourceLine.error`)."""

    numbers: list[int]
    values: list[bytes]
    errors: dict[int, str] = field(default_factory=dict)

    def lines(self) -> Iterator[SourceLine]:
        """The chunk's messages one by one."""
        errors = self.errors
        for index, (number, value) in enumerate(zip(self.numbers, self.values, strict=True)):
            yield SourceLine(number, value, errors.get(index))


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
    for chunk in read_chunks(path, options):
        yield from chunk.lines()


def read_chunks(path: Path, options: ReadOptions | None = None) -> Iterator[SourceChunk]:
    """The messages of `read_recording`, in file order, a few hundred at a time. The format
    is checked at once, so a wrong one fails before anything is read."""
    options = options or ReadOptions()
    file_format = detect_format(path, options.file_format)
    if file_format == "jsonl" and not options.converts_jsonl:
        return _wire_jsonl(path)
    converter = RowConverter(options)
    if file_format == "jsonl":
        return _chunked(_jsonl(path, converter))
    if file_format == "csv":
        return _chunked(_csv(path, converter))
    return _chunked(_parquet(path, converter))


def _wire_jsonl(path: Path) -> Iterator[SourceChunk]:
    """Wire-format lines as they are, in blocks of whole lines."""
    read = 0
    with path.open("rb") as source:
        while block := source.readlines(_BLOCK_BYTES):
            numbers, values = [], []
            for number, raw in enumerate(block, start=read + 1):
                line = raw.rstrip(b"\r\n")
                if line.strip():
                    numbers.append(number)
                    values.append(line)
            read += len(block)
            if values:
                yield SourceChunk(numbers, values)


def _chunked(lines: Iterable[SourceLine]) -> Iterator[SourceChunk]:
    chunk = SourceChunk([], [])
    for line in lines:
        if line.error is not None:
            chunk.errors[len(chunk.values)] = line.error
        chunk.numbers.append(line.number)
        chunk.values.append(line.value)
        if len(chunk.values) >= CHUNK_ROWS:
            yield chunk
            chunk = SourceChunk([], [])
    if chunk.values:
        yield chunk


def _converted(converter: RowConverter, number: int, row: Mapping[str, Any]) -> list[SourceLine]:
    try:
        return [SourceLine(number, message) for message in converter.messages(row)]
    except (TimestampError, ValueError) as exc:
        return [SourceLine(number, orjson.dumps(printable(row)), str(exc))]


def _jsonl(path: Path, converter: RowConverter) -> Iterator[SourceLine]:
    with path.open("rb") as source:
        for number, raw in enumerate(source, start=1):
            line = raw.rstrip(b"\r\n")
            if not line.strip():
                continue
            try:
                row = orjson.loads(line)
            except orjson.JSONDecodeError:
                row = None
            if not isinstance(row, dict):
                yield SourceLine(number, line, "not_json: the line is not a JSON object")
                continue
            yield from _converted(converter, number, row)


def _csv(path: Path, converter: RowConverter) -> Iterator[SourceLine]:
    # utf-8-sig: spreadsheet exports often start with a byte-order mark.
    with path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.DictReader(source)
        for row in reader:
            yield from _converted(converter, reader.line_num, row)


def _parquet(path: Path, converter: RowConverter) -> Iterator[SourceLine]:
    import pyarrow.parquet as pq

    number = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=_PARQUET_BATCH_ROWS):
        names = batch.schema.names
        columns = {name: _parquet_column(batch.column(name), converter) for name in names}
        for index in range(batch.num_rows):
            number += 1
            yield from _converted(
                converter, number, {name: col[index] for name, col in columns.items()}
            )


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
