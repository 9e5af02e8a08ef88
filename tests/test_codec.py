"""hedger.codec against the wire contract (DESIGN section 3) and its bad-input rules (section 6).

Every refusal is a `DecodeError` whose `kind` is the bounded label the DLQ and metrics use.
What the codec accepts and writes, with the shared examples below, is in
test_codec_accepted.py.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from hedger.codec import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DecodeError,
    decode_fill,
    decode_order,
    decode_price,
)
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.events import Side

TS = 1_795_185_000_000_000_000
OCC_CALL = "XYZ   261218C00100000"
OCC_CALL_COMPACT = "XYZ261218C00100000"
DROP = object()  # a field value meaning "leave this field out"

Decoder = Callable[[bytes], object]


def message(base: dict[str, Any], **overrides: Any) -> bytes:
    fields = {**base, **overrides}
    return orjson.dumps({key: value for key, value in fields.items() if value is not DROP})


def with_literal(base: dict[str, Any], name: str, literal: bytes) -> bytes:
    """`base` with field `name` written as raw JSON text, for what orjson will not write."""
    raw = message(base, **{name: 424242.4242})
    assert raw.count(b"424242.4242") == 1
    return raw.replace(b"424242.4242", literal)


TICK = {"type": "tick", "symbol": "XYZ", "ts": TS, "bid": 99.95, "ask": 100.05}
VOL = {"type": "vol", "symbol": "XYZ", "ts": TS, "vol": 0.25}
FILL = {
    "type": "fill",
    "fill_id": "F-1",
    "book": "mm-1",
    "instrument": OCC_CALL,
    "side": "buy",
    "qty": 10000,
    "price": 5.25,
    "ts": TS,
}
ORDER = {
    "type": "order",
    "order_id": "H-1",
    "book": "mm-1",
    "symbol": "XYZ",
    "side": "sell",
    "qty": 500,
    "ts": TS,
    "ref_price": 102.0,
    "reason": "band",
    "delta_before": 6500.0,
    "target_delta": 0.0,
}
# One valid example per decoder, for the rules every message shares.
VALID = [(decode_price, TICK), (decode_price, VOL), (decode_fill, FILL), (decode_order, ORDER)]
VALID_IDS = ["tick", "vol", "fill", "order"]


def refusal(decode: Decoder, raw: bytes) -> DecodeError:
    """The error `decode` refuses `raw` with (the test fails if it decodes)."""
    with pytest.raises(DecodeError) as caught:
        decode(raw)
    return caught.value


def sample_order(qty: float = 500.0) -> SubmitHedgeOrder:
    return SubmitHedgeOrder(
        order_id="H-0123456789abcdef0123",
        book="mm-1",
        symbol="XYZ",
        side=Side.SELL,
        qty=qty,
        ts_ns=TS,
        ref_price=102.0,
        reason="band",
        delta_before=6500.0,
        target_delta=0.0,
        policy="band",
        trigger=f"tick:XYZ:{TS}",
    )


# --- not JSON ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff\xfe\x00garbage",
        b"not json",
        b"",
        b'{"type": "tick", "symbol": "XYZ"',
        b"[]",
        b'[{"type": "tick"}]',
        b'"tick"',
        b"42",
        b"null",
    ],
    ids=["bytes", "text", "empty", "truncated", "array", "array-of-object", "string", "n", "null"],
)
@pytest.mark.parametrize("decode", [decode_price, decode_fill, decode_order])
def test_decoders_non_object_or_garbage_is_not_json(decode, raw):
    assert refusal(decode, raw).kind == "not_json"


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
@pytest.mark.parametrize(("decode", "field"), [(decode_price, "bid"), (decode_fill, "qty")])
def test_decoders_nan_infinity_or_overflowing_literal_is_not_json(decode, field, literal):
    # orjson refuses NaN/Infinity literals and numbers that overflow a double at parse time,
    # so they never reach the field checks; they are still refused, as not_json.
    base = TICK if decode is decode_price else FILL
    assert refusal(decode, with_literal(base, field, literal)).kind == "not_json"


# --- missing fields ---------------------------------------------------------------------

MISSING = [
    *((decode_price, TICK, name) for name in ("type", "symbol", "ts")),
    *((decode_price, VOL, name) for name in ("type", "symbol", "ts", "vol")),
    *(
        (decode_fill, FILL, name)
        for name in ("type", "fill_id", "book", "instrument", "side", "qty", "price", "ts")
    ),
    *(
        (decode_order, ORDER, name)
        for name in ("type", "order_id", "book", "symbol", "side", "qty", "ts", "ref_price")
    ),
]


@pytest.mark.parametrize(
    ("decode", "base", "name"), MISSING, ids=[f"{b['type']}-{n}" for _, b, n in MISSING]
)
def test_decoders_required_field_absent_is_missing_field(decode, base, name):
    error = refusal(decode, message(base, **{name: DROP}))
    assert error.kind == "missing_field", error.detail
    assert name in error.detail


@pytest.mark.parametrize(
    "prices",
    [{"bid": DROP, "ask": DROP}, {"ask": DROP}, {"bid": DROP}, {"bid": None, "ask": None}],
    ids=["no-price", "bid-only", "ask-only", "null-sides"],
)
def test_decode_price_tick_without_both_sides_or_last_is_missing_field(prices):
    assert refusal(decode_price, message(TICK, **prices)).kind == "missing_field"


# --- bad values -------------------------------------------------------------------------

BAD_POSITIVE = [0, 0.0, -0.0, -1, -99.5, "100.0", "NaN", "Infinity", True, False, [], {}]
POSITIVE_FIELDS = [
    (decode_price, TICK, "bid"),
    (decode_price, TICK, "ask"),
    (decode_price, TICK, "last"),
    (decode_price, VOL, "vol"),
    (decode_price, VOL, "strike"),
    (decode_fill, FILL, "qty"),
    (decode_fill, FILL, "price"),
    (decode_fill, FILL, "multiplier"),
    (decode_order, ORDER, "qty"),
    (decode_order, ORDER, "ref_price"),
]


@pytest.mark.parametrize("value", BAD_POSITIVE, ids=repr)
@pytest.mark.parametrize(
    ("decode", "base", "name"),
    POSITIVE_FIELDS,
    ids=[f"{b['type']}-{n}" for _, b, n in POSITIVE_FIELDS],
)
def test_decoders_price_or_quantity_not_a_positive_number_is_bad_value(decode, base, name, value):
    error = refusal(decode, message(base, **{name: value}))
    assert error.kind == "bad_value", error.detail
    assert name in error.detail


@pytest.mark.parametrize("fee", [-0.01, "1.5", True, []], ids=repr)
def test_decode_fill_negative_or_non_numeric_fee_is_bad_value(fee):
    assert refusal(decode_fill, message(FILL, fee=fee)).kind == "bad_value"


@pytest.mark.parametrize(
    "ts",
    [
        b"1795185000000000000.0",
        b"1.795185e18",
        b"1.5",
        b"true",
        b"false",
        b"0",
        b"-1",
        b"-1795185000000000000",
        b'"1795185000000000000"',
        b"18446744073709551616",
    ],
    ids=repr,
)
@pytest.mark.parametrize(("decode", "base"), VALID, ids=VALID_IDS)
def test_decoders_ts_not_a_positive_integer_is_bad_value(decode, base, ts):
    # 2**64 does not fit orjson's integers: it is read as a float and refused as one.
    error = refusal(decode, with_literal(base, "ts", ts))
    assert error.kind == "bad_value", error.detail
    assert "ts" in error.detail


@pytest.mark.parametrize("side", ["BUY", "Sell", "b", "", "short", 1, None, True, ["buy"]])
@pytest.mark.parametrize(("decode", "base"), [(decode_fill, FILL), (decode_order, ORDER)])
def test_decoders_side_not_buy_or_sell_is_bad_value(decode, base, side):
    assert refusal(decode, message(base, side=side)).kind == "bad_value"


@pytest.mark.parametrize("value", ["", "   ", 7, None, True, ["mm-1"]], ids=repr)
@pytest.mark.parametrize(
    ("decode", "base", "name"),
    [
        (decode_fill, FILL, "fill_id"),
        (decode_fill, FILL, "book"),
        (decode_order, ORDER, "order_id"),
        (decode_order, ORDER, "book"),
    ],
)
def test_decoders_identifier_not_a_non_empty_string_is_bad_value(decode, base, name, value):
    assert refusal(decode, message(base, **{name: value})).kind == "bad_value"


@pytest.mark.parametrize(
    "expiry", ["2026-13-01", "2026-02-30", "18/12/2026", "20261218", "2026-W51-5", 20261218, ""]
)
def test_decode_price_vol_expiry_not_yyyy_mm_dd_is_bad_value(expiry):
    assert refusal(decode_price, message(VOL, expiry=expiry)).kind == "bad_value"


def test_decode_price_crossed_quote_is_crossed_quote():
    error = refusal(decode_price, message(TICK, bid=100.10, ask=100.00))
    assert error.kind == "crossed_quote", error.detail
    assert "100.1" in error.detail


# --- unknown instruments and types ------------------------------------------------------


@pytest.mark.parametrize(
    "symbol", ["xyz", "TOOLONGTICKER", "1XYZ", "XY Z", "XYZ   261318C00100000"]
)
@pytest.mark.parametrize(
    ("decode", "base", "name"),
    [
        (decode_price, TICK, "symbol"),
        (decode_price, VOL, "symbol"),
        (decode_fill, FILL, "instrument"),
        (decode_order, ORDER, "symbol"),
    ],
)
def test_decoders_unparseable_symbol_is_unknown_instrument(decode, base, name, symbol):
    assert refusal(decode, message(base, **{name: symbol})).kind == "unknown_instrument"


@pytest.mark.parametrize("symbol", [OCC_CALL, OCC_CALL_COMPACT])
@pytest.mark.parametrize(("decode", "base"), [(decode_price, TICK), (decode_price, VOL)])
def test_decoders_option_symbol_where_an_underlying_is_needed_is_unknown_instrument(
    decode, base, symbol
):
    error = refusal(decode, message(base, symbol=symbol))
    assert error.kind == "unknown_instrument", error.detail
    assert "underlying" in error.detail


@pytest.mark.parametrize("symbol", [OCC_CALL, OCC_CALL_COMPACT])
def test_decode_order_option_symbol_is_accepted_for_gamma_vega_hedges(symbol):
    assert decode_order(message(ORDER, symbol=symbol)).symbol == symbol


@pytest.mark.parametrize(
    ("decode", "kind"),
    [
        (decode_price, "quote_request"),
        (decode_price, "fill"),
        (decode_price, "order"),
        (decode_fill, "tick"),
        (decode_fill, "order"),
        (decode_order, "fill"),
        (decode_order, "ORDER"),
    ],
)
def test_decoders_type_of_another_topic_is_unknown_type(decode, kind):
    base = {"tick": TICK, "fill": FILL, "order": ORDER, "quote_request": TICK, "ORDER": ORDER}
    assert refusal(decode, message(base[kind], type=kind)).kind == "unknown_type"


@pytest.mark.parametrize("kind", [None, 1, True, ["tick"], {"tick": 1}], ids=repr)
@pytest.mark.parametrize(("decode", "base"), VALID, ids=VALID_IDS)
def test_decoders_non_string_type_is_unknown_type(decode, base, kind):
    # A list or object type must not escape as a TypeError (unhashable): it is bad input.
    assert refusal(decode, message(base, type=kind)).kind == "unknown_type"


# --- size -------------------------------------------------------------------------------


@pytest.mark.parametrize(("decode", "base"), VALID, ids=VALID_IDS)
def test_decoders_payload_above_max_bytes_is_oversized(decode, base):
    raw = message(base)
    assert decode(raw, max_bytes=len(raw)) is not None
    assert refusal(lambda data: decode(data, max_bytes=len(raw) - 1), raw).kind == "oversized"


def test_decode_price_oversized_garbage_is_oversized_before_parsing():
    raw = b"\xff" * (DEFAULT_MAX_MESSAGE_BYTES + 1)
    assert refusal(decode_price, raw).kind == "oversized"
