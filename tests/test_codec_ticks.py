"""The fast path for ticks (`hedger.codec_ticks`) decides nothing the full decoder would
decide otherwise: over arbitrary tick-like messages, well formed or not, `decode_price`
gives exactly what `decode_price_fully` gives, the same event or the same refusal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hedger.codec import DecodeError, decode_price, decode_price_fully
from hedger.codec_ticks import fast_tick

MAX_BYTES = 65536

numbers = st.one_of(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 0.0, -0.0, 1e-320, 1.7976931348623157e308, 99.99, 100.01]),
)
odd_values = st.one_of(
    st.none(), st.booleans(), st.text(max_size=4), st.lists(st.integers(), max_size=2)
)
tick_fields = st.fixed_dictionaries(
    {},
    optional={
        "type": st.one_of(st.sampled_from(["tick", "vol", "quote", "Tick"]), odd_values),
        "symbol": st.one_of(
            st.sampled_from(["XYZ", "BRK.B", "xyz", "", " ", "XYZ   261218C00100000", "ÄBC"]),
            odd_values,
        ),
        "ts": st.one_of(
            st.integers(min_value=-5, max_value=2**65),
            st.sampled_from([1795185000000000000, 2**63 - 1, 2**63, 2**64 - 1, 2**64]),
            numbers,
            odd_values,
        ),
        "bid": st.one_of(numbers, odd_values),
        "ask": st.one_of(numbers, odd_values),
        "last": st.one_of(numbers, odd_values),
        "note": st.one_of(odd_values, st.text(max_size=3)),
    },
)

prices = st.floats(min_value=0.01, max_value=1e5)


@st.composite
def tick_like(draw: st.DrawFn) -> dict[str, Any]:
    """A valid tick (bid and ask, or last), then none, some or all of its fields replaced
    or dropped."""
    bid = draw(prices)
    base: dict[str, Any] = {
        "type": "tick",
        "symbol": draw(st.sampled_from(["XYZ", "BRK.B", "SPY"])),
        "ts": draw(st.integers(min_value=1, max_value=2**63 + 10)),
    }
    if draw(st.booleans()):
        base |= {"bid": bid, "ask": bid + draw(st.floats(min_value=0.0, max_value=10.0))}
    else:
        base["last"] = bid
    changed = base | draw(st.one_of(st.just({}), tick_fields))
    dropped = draw(st.sets(st.sampled_from(sorted(changed)), max_size=2))
    return {key: value for key, value in changed.items() if key not in dropped}


def outcome(decode: Any, raw: bytes) -> tuple[object, ...]:
    try:
        return ("decoded", decode(raw, MAX_BYTES))
    except DecodeError as error:
        return ("refused", type(error), error.kind, error.detail)


def as_bytes(fields: dict[str, Any]) -> bytes:
    # The standard library's writer, as it writes integers of any size (orjson stops at 64
    # bits) and non-ASCII text as it is.
    return json.dumps(fields, ensure_ascii=False).encode()


@settings(max_examples=3000, deadline=None)
@given(tick_like(), st.sampled_from([b"", b" ", b"\n", b"x", b"\xff"]), st.integers(0, 3))
@example({"type": "tick", "symbol": "XYZ", "ts": 1, "bid": 1.0, "ask": 2.0}, b"", 0)
def test_the_fast_path_agrees_with_the_full_decoder(
    fields: dict[str, Any], suffix: bytes, mangle: int
) -> None:
    raw = as_bytes(fields)
    if mangle == 1:
        raw += suffix  # trailing bytes: only whitespace is allowed
    elif mangle == 2:
        raw = raw[:-1] + b',"x":"' + suffix + b'"}'  # bytes in an ignored field
    elif mangle == 3:
        raw = raw[: len(raw) // 2]  # truncated
    assert outcome(decode_price, raw) == outcome(decode_price_fully, raw)


@pytest.mark.parametrize(
    "raw",
    [
        # Bad UTF-8 in a field nobody reads: orjson refuses the message, msgspec would not.
        b'{"type":"tick","symbol":"XYZ","ts":1,"last":1,"x":"\xff"}',
        # A key twice: the last one counts, in both readers.
        b'{"type":"tick","symbol":"XYZ","ts":1,"last":1,"last":-1}',
        # Past 64 bits orjson reads a float, which no timestamp may be.
        b'{"type":"tick","symbol":"XYZ","ts":18446744073709551616,"last":1}',
        # bid + ask overflows: the full path halves first.
        b'{"type":"tick","symbol":"XYZ","ts":1,"bid":1.7e308,"ask":1.7e308}',
    ],
)
def test_edge_cases_the_fast_path_must_leave_to_the_full_decoder(raw: bytes) -> None:
    assert fast_tick(raw) is None
    assert outcome(decode_price, raw) == outcome(decode_price_fully, raw)


def test_a_plain_tick_takes_the_fast_path() -> None:
    raw = b'{"type":"tick","symbol":"XYZ","ts":1795185000000000000,"bid":99.99,"ask":100.01}'
    assert fast_tick(raw) == decode_price_fully(raw, MAX_BYTES)
