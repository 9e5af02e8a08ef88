"""Where each recorded message goes: validation, topic and key, merging files, time windows.

Ticks, vols and option quotes go to the prices topic keyed by symbol, fills to the fills
topic keyed by book. Each message is checked with the codec; a refused one keeps its
reason in `error` and is routed as well as it can be (to the fills topic when its type is
`fill`, else to the prices topic), so it may still be forwarded to exercise the hedger's
dead-letter path.

Recordings are routed a chunk at a time (`RoutedChunk`: plain tuples, no object per
message). A tick the codec is sure to accept, most of any feed, is recognised by
`producers.fast_tick` from one JSON parse; anything else goes through the codec itself,
which has the last word and gives the reason.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson

from hedger.codec import DecodeError, decode_fill, decode_price
from producers.fast_tick import tick_record
from producers.recording import CHUNK_ROWS, SourceChunk

DEFAULT_PRICES_TOPIC = "md.prices"
DEFAULT_FILLS_TOPIC = "exec.fills"

Record = tuple[str, bytes | None, bytes, int | None]
"""One message to send: topic, key, value, event time in ns (None when it has none)."""


@dataclass(frozen=True, slots=True)
class ReplayTopics:
    prices: str = DEFAULT_PRICES_TOPIC
    fills: str = DEFAULT_FILLS_TOPIC


@dataclass(frozen=True, slots=True)
class RoutedLine:
    """One message of a recording and where it goes. `error` is None for a valid message;
    `source` names the recording, for reports."""

    line_number: int
    topic: str
    key: bytes | None
    value: bytes
    ts_ns: int | None
    error: str | None = None
    source: str = ""


@dataclass(frozen=True, slots=True)
class RoutedChunk:
    """Consecutive routed messages of the recording `source`: `records[i]` came from line
    (or row) `line_numbers[i]`; `errors` maps an index to the reason that message was
    refused, in index order."""

    source: str
    line_numbers: list[int]
    records: list[Record]
    errors: dict[int, str]

    def lines(self) -> Iterator[RoutedLine]:
        """The chunk's messages one by one."""
        source, errors = self.source, self.errors
        for index, (number, record) in enumerate(zip(self.line_numbers, self.records, strict=True)):
            yield RoutedLine(number, *record, errors.get(index), source)

    def subset(self, indices: list[int]) -> RoutedChunk:
        """The messages at `indices` (ascending), as a chunk of their own."""
        errors = self.errors
        kept = {new: errors[old] for new, old in enumerate(indices) if old in errors}
        numbers, records = self.line_numbers, self.records
        return RoutedChunk(
            self.source, [numbers[i] for i in indices], [records[i] for i in indices], kept
        )


def chunks_of(lines: Iterable[RoutedLine], rows: int = CHUNK_ROWS) -> Iterator[RoutedChunk]:
    """Consecutive lines as chunks: a new chunk at each change of source, or every `rows`."""
    chunk: RoutedChunk | None = None
    for line in lines:
        if chunk is None or chunk.source != line.source or len(chunk.records) >= rows:
            if chunk is not None:
                yield chunk
            chunk = RoutedChunk(line.source, [], [], {})
        if line.error is not None:
            chunk.errors[len(chunk.records)] = line.error
        chunk.line_numbers.append(line.line_number)
        chunk.records.append((line.topic, line.key, line.value, line.ts_ns))
    if chunk is not None:
        yield chunk


def _json_object(raw: bytes) -> dict[str, Any] | None:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return obj if isinstance(obj, dict) else None


def _text_field(obj: dict[str, Any], name: str) -> str | None:
    value = obj.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _ts_field(obj: dict[str, Any]) -> int | None:
    value = obj.get("ts")
    valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if valid else None


def _check_quote(obj: dict[str, Any]) -> None:
    # The hedger decodes option quotes itself; the replayer only checks the envelope.
    if _text_field(obj, "symbol") is None:
        raise DecodeError("bad_value", "a quote needs a non-empty string 'symbol'")
    if _ts_field(obj) is None:
        raise DecodeError("bad_value", "a quote needs 'ts' as a positive integer of ns")


def _validate(raw: bytes, obj: dict[str, Any] | None) -> None:
    if obj is None:
        raise DecodeError("not_json", "the line is not a JSON object")
    kind = obj.get("type")
    if kind == "fill":
        decode_fill(raw)
    elif kind in ("tick", "vol"):
        decode_price(raw)
    elif kind == "quote":
        _check_quote(obj)
    else:
        raise DecodeError("unknown_type", f"type {kind!r} is not tick, vol, quote or fill")


def route_line(
    raw: bytes, line_number: int, topics: ReplayTopics, error: str | None = None, source: str = ""
) -> RoutedLine:
    """Validate one message and decide its topic and key; a refused one carries `error`
    (`error` passed in is a reason found earlier, when the row was read)."""
    value = raw.rstrip(b"\r\n")
    if error is None:
        price = _valid_price(value, line_number, topics, source)
        if price is not None:
            return price
    obj = _json_object(value)
    if error is None:
        try:
            _validate(value, obj)
        except DecodeError as exc:
            error = str(exc)
    obj = obj or {}
    is_fill = obj.get("type") == "fill"
    key_text = _text_field(obj, "book" if is_fill else "symbol")
    return RoutedLine(
        line_number=line_number,
        topic=topics.fills if is_fill else topics.prices,
        key=key_text.encode() if key_text is not None else None,
        value=value,
        ts_ns=_ts_field(obj),
        error=error,
        source=source,
    )


def _valid_price(
    value: bytes, line_number: int, topics: ReplayTopics, source: str
) -> RoutedLine | None:
    """The routing of a valid tick or vol, from one decode; None for anything else, which
    takes the general path."""
    try:
        event = decode_price(value)
    except DecodeError:
        return None
    return RoutedLine(
        line_number, topics.prices, event.symbol.encode(), value, event.ts_ns, None, source
    )


def route_lines(lines: Iterable[bytes], topics: ReplayTopics) -> Iterator[RoutedLine]:
    """Route every non-blank line, numbering lines from 1 as an editor does."""
    for line_number, raw in enumerate(lines, start=1):
        if raw.strip():
            yield route_line(raw, line_number, topics)


def route_chunks(
    chunks: Iterable[SourceChunk], topics: ReplayTopics, source: str
) -> Iterator[RoutedChunk]:
    """Route the messages read from one recording, chunk by chunk; each message is routed
    exactly as `route_line` routes it."""
    symbol_keys: dict[str, bytes] = {}
    for chunk in chunks:
        yield _route_chunk(chunk, topics, source, symbol_keys)


def _route_chunk(
    chunk: SourceChunk, topics: ReplayTopics, source: str, symbol_keys: dict[str, bytes]
) -> RoutedChunk:
    records: list[Record] = []
    errors: dict[int, str] = {}
    read_errors, prices = chunk.errors, topics.prices
    for index, value in enumerate(chunk.values):
        record: Record | None = None
        if index not in read_errors:
            record = tick_record(value, prices, symbol_keys)
        if record is None:
            number, error = chunk.numbers[index], read_errors.get(index)
            routed = route_line(value, number, topics, error, source)
            record = (routed.topic, routed.key, routed.value, routed.ts_ns)
            if routed.error is not None:
                errors[index] = routed.error
        records.append(record)
    return RoutedChunk(source, chunk.numbers, records, errors)


def merge_by_time(streams: list[Iterator[RoutedChunk]]) -> Iterator[RoutedChunk]:
    """Several recordings, each in event-time order, as one stream in event-time order.

    Ties keep the order of `streams`, then file order. A message with no usable `ts` keeps
    the time of the one before it in its file, so it leaves in place.
    """
    if len(streams) == 1:
        return streams[0]
    keyed = [_keyed(stream, index) for index, stream in enumerate(streams)]
    return chunks_of(line for _key, line in heapq.merge(*keyed, key=itemgetter(0)))


def _keyed(
    stream: Iterator[RoutedChunk], index: int
) -> Iterator[tuple[tuple[int, int, int], RoutedLine]]:
    last_ts = 0
    lines = (line for chunk in stream for line in chunk.lines())
    for sequence, routed in enumerate(lines):
        last_ts = routed.ts_ns if routed.ts_ns is not None else last_ts
        yield (last_ts, index, sequence), routed


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Event times kept: start <= ts < end, in ns since the epoch; None leaves a side open."""

    start_ns: int | None = None
    end_ns: int | None = None


def within(
    chunks: Iterable[RoutedChunk], start_ns: int | None, end_ns: int | None
) -> Iterator[RoutedChunk]:
    """The messages whose time is in [start, end); one without a time always is."""
    for chunk in chunks:
        kept = [
            index
            for index, (*_, ts_ns) in enumerate(chunk.records)
            if ts_ns is None
            or ((start_ns is None or ts_ns >= start_ns) and (end_ns is None or ts_ns < end_ns))
        ]
        if len(kept) == len(chunk.records):
            yield chunk
        elif kept:
            yield chunk.subset(kept)
