"""hedger.codec against the wire contract (DESIGN section 3) and its bad-input rules (section 6).

Every refusal is a `DecodeError` whose `kind` is the bounded label the DLQ and metrics use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.codec import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DecodeError,
    decode_fill,
    decode_order,
    decode_price,
    encode_fill,
    encode_order,
    encode_tick,
    encode_vol,
)
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.events import FillReport, HedgeOrderRecorded, PriceTick, Side, VolUpdate
from hedger.core.instruments import OptionContract

PROPERTIES = settings(max_examples=300, deadline=None)

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


def assert_refused(decode: Decoder, raw: bytes, kind: str) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        decode(raw)
    assert caught.value.kind == kind, caught.value.detail
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


# --- valid examples from the design -----------------------------------------------------


def test_decode_price_tick_with_bid_and_ask_marks_the_mid():
    tick = decode_price(message(TICK))
    assert tick == PriceTick("XYZ", TS, 99.95, 100.05, None, (99.95 + 100.05) / 2)


def test_decode_price_tick_with_bid_ask_and_last_still_marks_the_mid():
    tick = decode_price(message(TICK, last=101.0))
    assert isinstance(tick, PriceTick)
    assert tick.last == 101.0
    assert tick.mark == (99.95 + 100.05) / 2


def test_decode_price_tick_with_only_last_marks_the_last():
    tick = decode_price(message(TICK, bid=DROP, ask=DROP, last=100.5))
    assert tick == PriceTick("XYZ", TS, None, None, 100.5, 100.5)


@pytest.mark.parametrize("missing_side", ["bid", "ask"])
def test_decode_price_tick_with_one_side_and_last_marks_the_last(missing_side):
    tick = decode_price(message(TICK, last=100.5, **{missing_side: DROP}))
    assert isinstance(tick, PriceTick)
    assert tick.mark == 100.5
    assert getattr(tick, missing_side) is None


def test_decode_price_tick_with_equal_bid_and_ask_is_not_crossed():
    tick = decode_price(message(TICK, bid=100.0, ask=100.0))
    assert isinstance(tick, PriceTick)
    assert tick.mark == 100.0


def test_decode_price_tick_with_null_optional_side_treats_it_as_missing():
    tick = decode_price(message(TICK, bid=None, last=100.5))
    assert isinstance(tick, PriceTick)
    assert (tick.bid, tick.mark) == (None, 100.5)


def test_decode_price_tick_near_float_max_has_a_finite_mid():
    # (bid + ask) overflows to inf here; a finite quote must still give a finite mark.
    tick = decode_price(message(TICK, bid=1.0e308, ask=1.5e308))
    assert isinstance(tick, PriceTick)
    assert tick.mark == 1.25e308


def test_decode_price_flat_vol_has_no_expiry_or_strike():
    assert decode_price(message(VOL)) == VolUpdate("XYZ", TS, 0.25)


def test_decode_price_vol_surface_point_keeps_expiry_and_strike():
    update = decode_price(message(VOL, expiry="2026-12-18", strike=105.0))
    assert update == VolUpdate("XYZ", TS, 0.25, dt.date(2026, 12, 18), 105.0)


def test_decode_fill_without_optional_fields_leaves_them_none():
    fill = decode_fill(message(FILL))
    assert fill == FillReport("F-1", "mm-1", OCC_CALL, Side.BUY, 10000.0, 5.25, TS)


def test_decode_fill_with_optional_fields_keeps_them():
    raw = message(FILL, order_id="H-1", fee=1.5, multiplier=10)
    fill = decode_fill(raw)
    assert (fill.order_id, fill.fee, fill.multiplier) == ("H-1", 1.5, 10.0)


def test_decode_fill_zero_fee_is_accepted():
    assert decode_fill(message(FILL, fee=0)).fee == 0.0


@pytest.mark.parametrize("instrument", ["XYZ", "BRK.B", OCC_CALL, OCC_CALL_COMPACT])
def test_decode_fill_underlying_or_occ_instrument_is_accepted(instrument):
    assert decode_fill(message(FILL, instrument=instrument)).instrument == instrument


def test_decode_order_reads_what_encode_order_wrote():
    order = sample_order()
    recorded = decode_order(encode_order(order))
    assert recorded == HedgeOrderRecorded(
        order.order_id, order.book, order.symbol, order.side, order.qty, order.ts_ns, 102.0
    )


def test_decode_order_design_example_is_accepted():
    recorded = decode_order(message(ORDER))
    assert recorded == HedgeOrderRecorded("H-1", "mm-1", "XYZ", Side.SELL, 500.0, TS, 102.0)


@pytest.mark.parametrize(("decode", "base"), VALID, ids=VALID_IDS)
def test_decoders_unknown_extra_fields_are_ignored(decode, base):
    extras = {"venue": "X", "nested": {"a": [1, 2]}, "nan_text": "NaN", "flag": True}
    assert decode(message(base, **extras)) == decode(message(base))


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
    assert_refused(decode, raw, "not_json")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"-1e400"])
@pytest.mark.parametrize(("decode", "field"), [(decode_price, "bid"), (decode_fill, "qty")])
def test_decoders_nan_infinity_or_overflowing_literal_is_not_json(decode, field, literal):
    # orjson refuses NaN/Infinity literals and numbers that overflow a double at parse time,
    # so they never reach the field checks; they are still refused, as not_json.
    base = TICK if decode is decode_price else FILL
    assert_refused(decode, with_literal(base, field, literal), "not_json")


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
    error = assert_refused(decode, message(base, **{name: DROP}), "missing_field")
    assert name in error.detail


@pytest.mark.parametrize(
    "prices",
    [{"bid": DROP, "ask": DROP}, {"ask": DROP}, {"bid": DROP}, {"bid": None, "ask": None}],
    ids=["no-price", "bid-only", "ask-only", "null-sides"],
)
def test_decode_price_tick_without_both_sides_or_last_is_missing_field(prices):
    assert_refused(decode_price, message(TICK, **prices), "missing_field")


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
    error = assert_refused(decode, message(base, **{name: value}), "bad_value")
    assert name in error.detail


@pytest.mark.parametrize("fee", [-0.01, "1.5", True, []], ids=repr)
def test_decode_fill_negative_or_non_numeric_fee_is_bad_value(fee):
    assert_refused(decode_fill, message(FILL, fee=fee), "bad_value")


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
    error = assert_refused(decode, with_literal(base, "ts", ts), "bad_value")
    assert "ts" in error.detail


@pytest.mark.parametrize("side", ["BUY", "Sell", "b", "", "short", 1, None, True, ["buy"]])
@pytest.mark.parametrize(("decode", "base"), [(decode_fill, FILL), (decode_order, ORDER)])
def test_decoders_side_not_buy_or_sell_is_bad_value(decode, base, side):
    assert_refused(decode, message(base, side=side), "bad_value")


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
    assert_refused(decode, message(base, **{name: value}), "bad_value")


@pytest.mark.parametrize(
    "expiry", ["2026-13-01", "2026-02-30", "18/12/2026", "20261218", "2026-W51-5", 20261218, ""]
)
def test_decode_price_vol_expiry_not_yyyy_mm_dd_is_bad_value(expiry):
    assert_refused(decode_price, message(VOL, expiry=expiry), "bad_value")


def test_decode_price_crossed_quote_is_crossed_quote():
    error = assert_refused(decode_price, message(TICK, bid=100.10, ask=100.00), "crossed_quote")
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
    assert_refused(decode, message(base, **{name: symbol}), "unknown_instrument")


@pytest.mark.parametrize("symbol", [OCC_CALL, OCC_CALL_COMPACT])
@pytest.mark.parametrize(("decode", "base"), [(decode_price, TICK), (decode_price, VOL)])
def test_decoders_option_symbol_where_an_underlying_is_needed_is_unknown_instrument(
    decode, base, symbol
):
    error = assert_refused(decode, message(base, symbol=symbol), "unknown_instrument")
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
    assert_refused(decode, message(base[kind], type=kind), "unknown_type")


@pytest.mark.parametrize("kind", [None, 1, True, ["tick"], {"tick": 1}], ids=repr)
@pytest.mark.parametrize(("decode", "base"), VALID, ids=VALID_IDS)
def test_decoders_non_string_type_is_unknown_type(decode, base, kind):
    # A list or object type must not escape as a TypeError (unhashable): it is bad input.
    assert_refused(decode, message(base, type=kind), "unknown_type")


# --- size -------------------------------------------------------------------------------


@pytest.mark.parametrize(("decode", "base"), VALID, ids=VALID_IDS)
def test_decoders_payload_above_max_bytes_is_oversized(decode, base):
    raw = message(base)
    assert decode(raw, max_bytes=len(raw)) is not None
    assert_refused(lambda data: decode(data, max_bytes=len(raw) - 1), raw, "oversized")


def test_decode_price_oversized_garbage_is_oversized_before_parsing():
    raw = b"\xff" * (DEFAULT_MAX_MESSAGE_BYTES + 1)
    assert_refused(decode_price, raw, "oversized")


# --- encoders and round trips -----------------------------------------------------------

positive_floats = st.floats(min_value=0.0, exclude_min=True, allow_infinity=False)
positive_numbers = positive_floats | st.integers(min_value=1, max_value=2**63 - 1).map(float)
timestamps = st.integers(min_value=1, max_value=2**63 - 1)
identifiers = st.text(st.characters(codec="utf-8"), min_size=1, max_size=20).filter(str.strip)
tickers = st.from_regex(r"[A-Z][A-Z0-9.\-]{0,9}", fullmatch=True)
contracts = st.builds(
    OptionContract,
    root=st.from_regex(r"[A-Z0-9.]{1,6}", fullmatch=True),
    expiry=st.dates(dt.date(2000, 1, 1), dt.date(2099, 12, 31)),
    is_call=st.booleans(),
    strike=st.integers(min_value=1, max_value=99_999_999).map(lambda units: units / 1000),
)
instruments = tickers | contracts.map(lambda contract: contract.occ_symbol)
sides = st.sampled_from(Side)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


fills = st.builds(
    FillReport,
    fill_id=identifiers,
    book=identifiers,
    instrument=instruments,
    side=sides,
    qty=positive_numbers,
    price=positive_numbers,
    ts_ns=timestamps,
    order_id=optional(identifiers),
    fee=optional(st.floats(min_value=0.0, allow_infinity=False)),
    multiplier=optional(positive_numbers),
)


@st.composite
def ticks(draw: st.DrawFn) -> PriceTick:
    shape = draw(st.sampled_from(["both", "both+last", "last", "bid+last", "ask+last"]))
    low, high = sorted((draw(positive_floats), draw(positive_floats)))
    bid = low if shape.startswith(("both", "bid")) else None
    ask = high if shape.startswith(("both", "ask")) else None
    last = draw(positive_floats) if "last" in shape else None
    # The mark is not on the wire; the decoder derives it, checked separately below.
    return PriceTick(draw(tickers), draw(timestamps), bid, ask, last, mark=0.0)


vols = st.builds(
    VolUpdate,
    symbol=tickers,
    ts_ns=timestamps,
    vol=positive_floats,
    expiry=optional(st.dates()),
    strike=optional(positive_floats),
)


@PROPERTIES
@given(fills)
def test_encode_fill_then_decode_fill_gives_the_same_fill(fill):
    assert decode_fill(encode_fill(fill)) == fill


@PROPERTIES
@given(ticks())
def test_encode_tick_then_decode_price_gives_the_same_tick(tick):
    decoded = decode_price(encode_tick(tick))
    assert isinstance(decoded, PriceTick)
    assert (decoded.symbol, decoded.ts_ns) == (tick.symbol, tick.ts_ns)
    assert (decoded.bid, decoded.ask, decoded.last) == (tick.bid, tick.ask, tick.last)
    if tick.bid is not None and tick.ask is not None:
        assert tick.bid <= decoded.mark <= tick.ask
    else:
        assert decoded.mark == tick.last


@PROPERTIES
@given(vols)
def test_encode_vol_then_decode_price_gives_the_same_vol(update):
    assert decode_price(encode_vol(update)) == update


def test_encode_order_writes_exactly_the_design_fields_plus_policy_and_trigger():
    written = orjson.loads(encode_order(sample_order()))
    assert set(written) == {*ORDER, "policy", "trigger"}
    assert written["type"] == "order"
    assert written["side"] == "sell"
    assert written["ts"] == TS
    assert (written["policy"], written["trigger"]) == ("band", f"tick:XYZ:{TS}")


def test_encode_order_whole_number_qty_is_a_json_integer():
    raw = encode_order(sample_order(qty=500.0))
    assert b'"qty":500,' in raw
    assert type(orjson.loads(raw)["qty"]) is int


def test_encode_order_fractional_qty_stays_a_json_float():
    assert orjson.loads(encode_order(sample_order(qty=12.5)))["qty"] == 12.5


@pytest.mark.parametrize("qty", [2.0**64, 1e20, 1.7e308])
def test_encode_order_whole_qty_beyond_64_bits_still_encodes(qty):
    # orjson cannot write integers past 64 bits; such a quantity must not crash the encoder.
    assert orjson.loads(encode_order(sample_order(qty=qty)))["qty"] == qty


@PROPERTIES
@given(qty=positive_numbers, side=sides, ts_ns=timestamps, ref_price=positive_floats)
def test_encode_order_then_decode_order_keeps_the_order(qty, side, ts_ns, ref_price):
    order = sample_order()
    order = SubmitHedgeOrder(
        order.order_id,
        order.book,
        order.symbol,
        side,
        qty,
        ts_ns,
        ref_price,
        order.reason,
        order.delta_before,
        order.target_delta,
        order.policy,
        order.trigger,
    )
    recorded = decode_order(encode_order(order))
    assert (recorded.side, recorded.qty, recorded.ts_ns, recorded.ref_price) == (
        side,
        qty,
        ts_ns,
        ref_price,
    )
