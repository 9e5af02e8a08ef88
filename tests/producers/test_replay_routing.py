"""Routing a recording a chunk at a time: the tick shortcut against the codec, which has the
last word, and the chunked reading of wire JSONL against a plain split of the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import producers.routing
from hedger.codec import DEFAULT_MAX_MESSAGE_BYTES, DecodeError, decode_price
from hedger.core.events import PriceTick
from producers.recording import SourceChunk, read_chunks
from producers.replay import TimeWindow, recorded_lines
from producers.routing import ReplayTopics, route_chunks, route_line

T0 = 1_795_185_000_000_000_000
SECOND = 1_000_000_000
TOPICS = ReplayTopics(prices="p", fills="f")

ABSENT = object()  # the field is left out of the message
POSITIVE = st.one_of(
    st.floats(min_value=5e-324, allow_infinity=False),
    st.integers(min_value=1, max_value=2**64 - 1),
    st.sampled_from([5e-324, 1.7976931348623157e308, 2**53 + 1, 100, 100.0]),
)
NOT_PRICES = st.one_of(
    st.floats(max_value=0.0, allow_infinity=False),
    st.integers(min_value=-(2**63), max_value=0),
    st.sampled_from([None, ABSENT, True, False, "100.5", "", [], [1.0], {}, {"v": 1.0}]),
)
TICKERS = st.sampled_from(["XYZ", "ABC", "BRK.B", "A", "ABCDEFGHIJ", "X-1"])
STAMPS = st.integers(min_value=1, max_value=2**64 - 1)
# For each field, values a tick must not have there.
WRONG = {
    "type": st.sampled_from(["vol", "quote", "fill", "Tick", "", None, 1, ["tick"], ABSENT]),
    "symbol": st.one_of(
        st.sampled_from(["xyz", "", " ", "XYZ ", " XYZ", "ABCDEFGHIJK", "1AB", ".A", "XYZ\n"]),
        st.just("XYZ   261218C00100000"),  # an OCC option: an instrument, not an underlying
        st.sampled_from([None, 7, True, ["XYZ"], {"s": "XYZ"}, ABSENT]),
        st.text(max_size=12),
    ),
    "ts": st.one_of(
        st.integers(min_value=-(2**63), max_value=0),
        st.sampled_from([True, float(T0), str(T0), None, ABSENT]),
    ),
    "bid": NOT_PRICES,
    "ask": NOT_PRICES,
    "last": NOT_PRICES,
}


@st.composite
def tick_like(draw: st.DrawFn) -> bytes:
    """A tick with up to two fields made wrong or left out (bid above ask half the time)."""
    fields: dict[str, Any] = {
        "type": "tick",
        "symbol": draw(TICKERS),
        "ts": draw(STAMPS),
        "bid": draw(POSITIVE),
        "ask": draw(POSITIVE),
        "last": draw(st.one_of(POSITIVE, st.just(ABSENT))),
    }
    for name in draw(st.lists(st.sampled_from(list(WRONG)), max_size=2)):
        fields[name] = draw(WRONG[name])
    if draw(st.booleans()):
        fields["venue"] = draw(st.sampled_from(["X", 1, None, [1, 2]]))
    order = draw(st.permutations(list(fields)))
    return orjson.dumps({name: fields[name] for name in order if fields[name] is not ABSENT})


def routed_one(raw: bytes) -> tuple[str, bytes | None, bytes, int | None, str | None]:
    (chunk,) = route_chunks([SourceChunk([1], [raw])], TOPICS, "r.jsonl")
    return (*chunk.records[0], chunk.errors.get(0))


def codec_verdict(raw: bytes) -> Any:
    try:
        return decode_price(raw)
    except DecodeError as exc:
        return exc


@settings(max_examples=1000, deadline=None)
@given(tick_like())
@example(b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":100.0,"ask":100.0}' % T0)
@example(b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":101,"ask":100,"last":100}' % T0)
@example(b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":1e308,"ask":1.7e308}' % T0)
@example(b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":null,"ask":100,"last":99}' % T0)
@example(b'{"type":"tick","type":"vol","symbol":"XYZ","ts":%d,"last":99}' % T0)
@example(b'  {"type":"tick","symbol":"XYZ","ts":%d,"last":99}\t' % T0)
@example(b'[{"type":"tick","symbol":"XYZ","ts":%d,"last":99}]' % T0)
@example(b'{"type":"tick","symbol":"XYZ","ts":%d,"last":99},{}' % T0)
def test_route_chunks_tick_accepted_exactly_when_the_codec_accepts_it(raw: bytes) -> None:
    topic, key, value, ts_ns, error = routed_one(raw)
    verdict = codec_verdict(raw)
    if isinstance(verdict, PriceTick):
        assert error is None
        assert (topic, key, value, ts_ns) == ("p", verdict.symbol.encode(), raw, verdict.ts_ns)
    elif isinstance(verdict, DecodeError) and _kind(raw) == "tick":
        assert error == str(verdict)  # the codec's own reason
    # Whatever the message, routed as the line-by-line path routes it.
    line = route_line(raw, 1, TOPICS, source="r.jsonl")
    assert (topic, key, value, ts_ns, error) == (
        line.topic,
        line.key,
        line.value,
        line.ts_ns,
        line.error,
    )


def _kind(raw: bytes) -> Any:
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return message.get("type") if isinstance(message, dict) else None


def test_route_chunks_oversized_tick_refused_as_the_codec_refuses_it() -> None:
    padding = "x" * DEFAULT_MAX_MESSAGE_BYTES
    raw = orjson.dumps(
        {"type": "tick", "symbol": "XYZ", "ts": T0, "bid": 99.9, "ask": 100.1, "note": padding}
    )
    *_, error = routed_one(raw)
    assert error is not None
    assert error.startswith("oversized")


@pytest.mark.parametrize(
    "raw",
    [
        b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":99.95,"ask":100.05}' % T0,
        b'{"ts":%d,"ask":100,"bid":99,"symbol":"BRK.B","type":"tick"}' % T0,
        b'{"type":"tick","symbol":"XYZ","ts":%d,"last":100.0}' % T0,
        b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":100,"ask":100,"last":null,"x":[1]}' % T0,
    ],
)
def test_route_chunks_common_ticks_need_no_codec_decode(
    raw: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[bytes] = []

    def counting_decode(message: bytes) -> Any:
        decoded.append(message)
        return decode_price(message)

    monkeypatch.setattr(producers.routing, "decode_price", counting_decode)
    topic, key, _, ts_ns, error = routed_one(raw)
    assert (topic, ts_ns, error) == ("p", T0, None)
    assert key in (b"XYZ", b"BRK.B")
    assert decoded == []
    routed_one(b'{"type":"vol","symbol":"XYZ","ts":%d,"vol":0.2}' % T0)
    assert len(decoded) == 1  # anything but a tick is the codec's to decide


def test_read_chunks_wire_jsonl_lines_across_blocks_numbered_as_in_the_file(
    tmp_path: Path,
) -> None:
    tick = b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":99.95,"ask":100.05}'
    lines = [tick % (T0 + n) for n in range(3000)]
    for position, odd in [(5, b""), (700, b"  \t"), (701, b"\r"), (2999, b"")]:
        lines[position] = odd
    lines[1500] += b"\r"
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b"\n".join(lines))  # the last line has no newline
    chunks = list(read_chunks(path))
    expected = [
        (number, line.rstrip(b"\r\n"))
        for number, line in enumerate(path.read_bytes().split(b"\n"), start=1)
        if line.strip()
    ]
    assert len(chunks) > 2  # block boundaries are crossed
    read = [pair for chunk in chunks for pair in zip(chunk.numbers, chunk.values, strict=True)]
    assert read == expected
    assert all(not chunk.errors for chunk in chunks)


def test_recorded_lines_window_inside_a_chunk_keeps_refusals_on_their_lines(
    tmp_path: Path,
) -> None:
    def tick(second: int, bid: float = 99.9) -> bytes:
        return orjson.dumps(
            {"type": "tick", "symbol": "XYZ", "ts": T0 + second * SECOND, "bid": bid, "ask": 100.1}
        )

    path = tmp_path / "feed.jsonl"
    crossed = tick(3, bid=100.5)
    path.write_bytes(b"\n".join([tick(0), tick(1), b"not json", tick(2), crossed, tick(4)]))
    window = TimeWindow(start_ns=T0 + 2 * SECOND, end_ns=T0 + 4 * SECOND)
    kept = [(line.line_number, line.error) for line in recorded_lines([path], TOPICS, None, window)]
    # The line without a time is kept; refusals keep their own line numbers.
    assert [number for number, _ in kept] == [3, 4, 5]
    assert kept[0][1] is not None
    assert kept[0][1].startswith("not_json")
    assert kept[1][1] is None
    assert kept[2][1] is not None
    assert kept[2][1].startswith("crossed_quote")


def test_recorded_lines_merge_keeps_each_refusal_with_its_own_file(tmp_path: Path) -> None:
    prices, fills = tmp_path / "prices.jsonl", tmp_path / "fills.jsonl"
    prices.write_bytes(
        b"\n".join(
            b'{"type":"tick","symbol":"XYZ","ts":%d,"last":100}' % (T0 + n * SECOND)
            for n in range(3)
        )
    )
    bad_fill = b'{"type":"fill","fill_id":"C-1","book":"mm-1","ts":%d}' % (T0 + SECOND // 2)
    fills.write_bytes(b"\n" + bad_fill + b"\n")
    merged = list(recorded_lines([prices, fills], TOPICS))
    assert [(line.source, line.line_number) for line in merged] == [
        (str(prices), 1),
        (str(fills), 2),
        (str(prices), 2),
        (str(prices), 3),
    ]
    assert [line.error is not None for line in merged] == [False, True, False, False]
    assert merged[1].topic == "f"
