"""Wire contract v1: bytes <-> events and actions (see docs/reference/wire-format.md).

Every message is one JSON object with `type` and `ts` (event time, integer ns since the epoch,
UTC). Unknown extra fields are ignored; a missing or malformed required field raises
`DecodeError`, whose `kind` is a bounded label for metrics and whose `detail` says what is wrong.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any

import orjson

from hedger.codec_ticks import fast_tick
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.events import (
    FillReport,
    HedgeOrderRecorded,
    OptionQuote,
    PriceTick,
    Side,
    VolUpdate,
)
from hedger.core.instruments import (
    InstrumentError,
    OptionContract,
    is_underlying_symbol,
    parse_instrument,
)

DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024
# Python's date.fromisoformat also takes 20261218 and 2026-W51-5; the contract says YYYY-MM-DD.
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Whole quantities up to 2**53 are exact integers in every JSON reader (and orjson cannot
# write integers past 64 bits); larger ones are written as floats.
_MAX_JSON_INTEGER = 2**53

_Json = dict[str, Any]


class DecodeError(ValueError):
    """A message that cannot be used. `kind` is one of a small fixed set of labels."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


class CrossedQuoteError(DecodeError):
    """A tick with its bid above its ask: dead-lettered, and it freezes the underlying
    (`QuoteCrossed`), so it names the symbol and time when they are readable."""

    def __init__(self, detail: str, symbol: str, ts_ns: int) -> None:
        super().__init__("crossed_quote", detail)
        self.symbol = symbol
        self.ts_ns = ts_ns


def _load(raw: bytes, max_bytes: int) -> _Json:
    if len(raw) > max_bytes:
        raise DecodeError("oversized", f"{len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError("not_json", str(exc)) from None
    if not isinstance(obj, dict):
        raise DecodeError("not_json", f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _field(obj: _Json, name: str) -> Any:
    try:
        return obj[name]
    except KeyError:
        raise DecodeError("missing_field", f"required field {name!r} is missing") from None


def _text(obj: _Json, name: str) -> str:
    value = _field(obj, name)
    if not isinstance(value, str) or not value.strip():
        raise DecodeError("bad_value", f"{name!r} must be a non-empty string, got {value!r}")
    return value


def _number(value: Any, name: str) -> float:
    # bool is an int in Python; a JSON true is never a valid quantity or price.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise DecodeError("bad_value", f"{name!r} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise DecodeError("bad_value", f"{name!r} must be finite, got {value!r}")
    return number


def _positive(obj: _Json, name: str) -> float:
    number = _number(_field(obj, name), name)
    if number <= 0:
        raise DecodeError("bad_value", f"{name!r} must be positive, got {number!r}")
    return number


def _optional(obj: _Json, name: str, parse: Callable[[_Json, str], Any]) -> Any:
    return None if obj.get(name) is None else parse(obj, name)


def _non_negative(obj: _Json, name: str) -> float:
    number = _number(_field(obj, name), name)
    if number < 0:
        raise DecodeError("bad_value", f"{name!r} must not be negative, got {number!r}")
    return number


def _timestamp(obj: _Json) -> int:
    value = _field(obj, "ts")
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise DecodeError("bad_value", f"'ts' must be a positive integer of ns, got {value!r}")
    return value


def _side(obj: _Json) -> Side:
    value = _field(obj, "side")
    try:
        return Side(value)
    except ValueError:
        raise DecodeError("bad_value", f"'side' must be 'buy' or 'sell', got {value!r}") from None


def _date(obj: _Json, name: str) -> dt.date:
    value = _text(obj, name)
    try:
        if _ISO_DATE.fullmatch(value) is None:
            raise ValueError(value)
        return dt.date.fromisoformat(value)
    except ValueError:
        raise DecodeError("bad_value", f"{name!r} must be YYYY-MM-DD, got {value!r}") from None


def _instrument(obj: _Json, name: str, ts_ns: int) -> OptionContract | str:
    """The instrument `name` holds, an option's year read near the record's time `ts_ns`
    (as the engine reads it: what is accepted here, it can book)."""
    try:
        return parse_instrument(_text(obj, name), ts_ns)
    except InstrumentError as exc:
        raise DecodeError("unknown_instrument", str(exc)) from None


def _underlying(obj: _Json, name: str) -> str:
    symbol = _text(obj, name)
    if is_underlying_symbol(symbol):
        return symbol
    _instrument(obj, name, _timestamp(obj))  # neither: the error says which part is wrong
    raise DecodeError("unknown_instrument", f"{name!r} must be an underlying, got {symbol!r}")


def _tick(obj: _Json) -> PriceTick:
    bid = _optional(obj, "bid", _positive)
    ask = _optional(obj, "ask", _positive)
    last = _optional(obj, "last", _positive)
    if bid is not None and ask is not None:
        if bid > ask:
            detail = f"bid {bid} is above ask {ask}"
            raise CrossedQuoteError(detail, _underlying(obj, "symbol"), _timestamp(obj))
        mark = (bid + ask) / 2.0
        if math.isinf(mark):
            # bid + ask overflowed: halve first (exact for such large numbers).
            mark = bid / 2.0 + ask / 2.0
    elif last is not None:
        mark = last
    else:
        raise DecodeError("missing_field", "a tick needs 'bid' and 'ask', or 'last'")
    return PriceTick(_underlying(obj, "symbol"), _timestamp(obj), bid, ask, last, mark)


def _vol(obj: _Json) -> VolUpdate:
    return VolUpdate(
        symbol=_underlying(obj, "symbol"),
        ts_ns=_timestamp(obj),
        vol=_positive(obj, "vol"),
        expiry=_optional(obj, "expiry", _date),
        strike=_optional(obj, "strike", _positive),
    )


def _quote(obj: _Json) -> OptionQuote:
    ts_ns = _timestamp(obj)
    if not isinstance(_instrument(obj, "symbol", ts_ns), OptionContract):
        raise DecodeError("unknown_instrument", f"a quote is for an option, got {obj['symbol']!r}")
    bid, ask = _non_negative(obj, "bid"), _positive(obj, "ask")
    if bid > ask:
        raise DecodeError("crossed_quote", f"bid {bid} is above ask {ask}")
    return OptionQuote(obj["symbol"], ts_ns, bid, ask)


def _type(obj: _Json, allowed: frozenset[str]) -> str:
    kind = _field(obj, "type")
    # A list or object is unhashable: test for a string before the set lookup.
    if not isinstance(kind, str) or kind not in allowed:
        raise DecodeError("unknown_type", f"type {kind!r} is not one of {sorted(allowed)}")
    return str(kind)


_PRICE_DECODERS: dict[str, Callable[[_Json], PriceTick | VolUpdate | OptionQuote]] = {
    "tick": _tick,
    "vol": _vol,
    "quote": _quote,
}


def decode_price(
    raw: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> PriceTick | VolUpdate | OptionQuote:
    """Decode a record of the price topic (`tick`, `vol` or option `quote`)."""
    if len(raw) <= max_bytes:
        tick = fast_tick(raw)
        if tick is not None:
            return tick
    return decode_price_fully(raw, max_bytes)


def decode_price_fully(raw: bytes, max_bytes: int) -> PriceTick | VolUpdate | OptionQuote:
    """`decode_price` field by field, every rule checked: the judge of anything the fast
    path for ticks (`hedger.codec_ticks`) does not vouch for."""
    obj = _load(raw, max_bytes)
    return _PRICE_DECODERS[_type(obj, frozenset(_PRICE_DECODERS))](obj)


def decode_fill(raw: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> FillReport:
    """Decode a record of the fill topic."""
    obj = _load(raw, max_bytes)
    _type(obj, frozenset({"fill"}))
    fill_id, book, ts_ns = _text(obj, "fill_id"), _text(obj, "book"), _timestamp(obj)
    _instrument(obj, "instrument", ts_ns)
    return FillReport(
        fill_id=fill_id,
        book=book,
        instrument=obj["instrument"],
        side=_side(obj),
        qty=_positive(obj, "qty"),
        price=_positive(obj, "price"),
        ts_ns=ts_ns,
        order_id=_optional(obj, "order_id", _text),
        fee=_optional(obj, "fee", _non_negative),
        multiplier=_optional(obj, "multiplier", _positive),
    )


def decode_order(raw: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> HedgeOrderRecorded:
    """Decode a record of the order topic, as read back while rebuilding state."""
    obj = _load(raw, max_bytes)
    _type(obj, frozenset({"order"}))
    order_id, book, ts_ns = _text(obj, "order_id"), _text(obj, "book"), _timestamp(obj)
    _instrument(obj, "symbol", ts_ns)  # an underlying, or a listed option (gamma/vega)
    return HedgeOrderRecorded(
        order_id=order_id,
        book=book,
        symbol=obj["symbol"],
        side=_side(obj),
        qty=_positive(obj, "qty"),
        ts_ns=ts_ns,
        ref_price=_positive(obj, "ref_price"),
    )


def _quantity(qty: float) -> int | float:
    # Whole share counts are written as JSON integers, as execution systems expect.
    whole = float(qty).is_integer() and abs(qty) <= _MAX_JSON_INTEGER
    return int(qty) if whole else qty


def encode_order(order: SubmitHedgeOrder) -> bytes:
    return _without_none(
        {
            "type": "order",
            "order_id": order.order_id,
            "book": order.book,
            "symbol": order.symbol,
            "side": order.side.value,
            "qty": _quantity(order.qty),
            "ts": order.ts_ns,
            "ref_price": order.ref_price,
            "reason": order.reason,
            "delta_before": order.delta_before,
            "target_delta": order.target_delta,
            "policy": order.policy,
            "trigger": order.trigger,
            "limit_price": order.limit_price,
        }
    )


def _without_none(message: _Json) -> bytes:
    return orjson.dumps({key: value for key, value in message.items() if value is not None})


def encode_fill(fill: FillReport) -> bytes:
    return _without_none(
        {
            "type": "fill",
            "fill_id": fill.fill_id,
            "book": fill.book,
            "instrument": fill.instrument,
            "side": fill.side.value,
            "qty": _quantity(fill.qty),
            "price": fill.price,
            "ts": fill.ts_ns,
            "order_id": fill.order_id,
            "fee": fill.fee,
            "multiplier": fill.multiplier,
        }
    )


def encode_tick(tick: PriceTick) -> bytes:
    return _without_none(
        {
            "type": "tick",
            "symbol": tick.symbol,
            "ts": tick.ts_ns,
            "bid": tick.bid,
            "ask": tick.ask,
            "last": tick.last,
        }
    )


def encode_vol(update: VolUpdate) -> bytes:
    return _without_none(
        {
            "type": "vol",
            "symbol": update.symbol,
            "ts": update.ts_ns,
            "vol": update.vol,
            "expiry": update.expiry.isoformat() if update.expiry else None,
            "strike": update.strike,
        }
    )


def encode_quote(quote: OptionQuote) -> bytes:
    return orjson.dumps(
        {
            "type": "quote",
            "symbol": quote.symbol,
            "ts": quote.ts_ns,
            "bid": quote.bid,
            "ask": quote.ask,
        }
    )
