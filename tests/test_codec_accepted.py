"""What hedger.codec accepts and writes: the design's valid examples decoded, the encoders'
exact fields, and decoding what they wrote gives back what was encoded (Hypothesis round
trips). The decoders' refusals are in test_codec.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.codec import (
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
from tests.test_codec import (
    DROP,
    FILL,
    OCC_CALL,
    OCC_CALL_COMPACT,
    ORDER,
    TICK,
    TS,
    VALID,
    VALID_IDS,
    VOL,
    message,
    sample_order,
)

PROPERTIES = settings(max_examples=300, deadline=None)


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
