"""Decoding `quote` messages (option bid/ask) on the price topic."""

from __future__ import annotations

import orjson
import pytest

from hedger.codec import DecodeError, decode_price, encode_quote
from hedger.core.events import OptionQuote

SYMBOL = "XYZ   261218C00100000"


def quote(**fields: object) -> bytes:
    message = {"type": "quote", "symbol": SYMBOL, "ts": 1_000, "bid": 5.1, "ask": 5.3}
    message.update(fields)
    return orjson.dumps({k: v for k, v in message.items() if v is not None})


def test_decode_quote_gives_option_quote_with_mid() -> None:
    decoded = decode_price(quote())

    assert decoded == OptionQuote(SYMBOL, 1_000, 5.1, 5.3)
    assert decoded.mid == pytest.approx(5.2)  # type: ignore[union-attr]


def test_decode_quote_round_trips_through_encode_quote() -> None:
    original = OptionQuote("XYZ261218P00095500", 7, 0.0, 0.05)

    assert decode_price(encode_quote(original)) == original


def test_decode_quote_zero_bid_is_accepted() -> None:
    assert decode_price(quote(bid=0)).bid == 0.0  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"bid": 5.4, "ask": 5.3}, "crossed_quote"),
        ({"bid": -0.1}, "bad_value"),
        ({"ask": 0}, "bad_value"),
        ({"bid": None}, "missing_field"),
        ({"symbol": "XYZ"}, "unknown_instrument"),
        ({"symbol": "XYZ   261318C00100000"}, "unknown_instrument"),
        ({"ts": -5}, "bad_value"),
    ],
)
def test_decode_quote_bad_field_raises_decode_error_of_kind(
    fields: dict[str, object], kind: str
) -> None:
    with pytest.raises(DecodeError) as raised:
        decode_price(quote(**fields))

    assert raised.value.kind == kind
