"""Wire contract v1 of the control topic, and of order cancels on the order topic.

Control topic (key: the book, or `*` for all books):

- `{"type":"kill","book":"mm-1"|"*","engaged":true|false,"ts":…,"by":"ops"}`
- `{"type":"rearm","book":"mm-1","ts":…,"by":"ops"}`
- `{"type":"latch","book":"mm-1","ts":…,"by":"hedger","reason":"…"}` (written by the
  hedger when the flip-flop or timeout latch, or a conflicting fill, stops a book)

Order topic, besides orders: `{"type":"cancel","order_id":…,"book":…,"symbol":…,"ts":…,
"reason":"timeout"}`. `by` and `reason` are optional. Bad messages raise `DecodeError`
(`hedger.codec`), with the same kinds as every other topic.
"""

from __future__ import annotations

from typing import Any

import orjson

from hedger.codec import (
    DEFAULT_MAX_MESSAGE_BYTES,
    DecodeError,
    _load,
    _text,
    _timestamp,
    _type,
    decode_order,
)
from hedger.core.actions import CancelHedgeOrder, LatchBook
from hedger.core.controls import ALL_BOOKS
from hedger.core.events import (
    BookLatched,
    BookRearmed,
    ControlEvent,
    HedgeOrderCancelled,
    HedgeOrderRecorded,
    KillSwitchSet,
)

_Json = dict[str, Any]
_CONTROL_TYPES = frozenset({"kill", "rearm", "latch"})


def _book(obj: _Json, allow_all: bool) -> str:
    book = _text(obj, "book")
    if book == ALL_BOOKS and not allow_all:
        raise DecodeError("bad_value", f"{obj['type']!r} needs one book, not '*'")
    return book


def _optional_text(obj: _Json, name: str, default: str) -> str:
    return default if obj.get(name) is None else _text(obj, name)


def _engaged(obj: _Json) -> bool:
    value = obj.get("engaged")
    if not isinstance(value, bool):
        raise DecodeError("bad_value", f"'engaged' must be true or false, got {value!r}")
    return value


def decode_control(raw: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES) -> ControlEvent:
    """Decode a record of the control topic."""
    obj = _load(raw, max_bytes)
    kind = _type(obj, _CONTROL_TYPES)
    by = _optional_text(obj, "by", "unknown")
    if kind == "kill":
        return KillSwitchSet(_book(obj, allow_all=True), _engaged(obj), _timestamp(obj), by)
    if kind == "rearm":
        return BookRearmed(_book(obj, allow_all=False), _timestamp(obj), by)
    reason = _optional_text(obj, "reason", "")
    return BookLatched(_book(obj, allow_all=False), _timestamp(obj), by, reason)


def encode_control(event: ControlEvent) -> bytes:
    if isinstance(event, KillSwitchSet):
        message: _Json = {"type": "kill", "book": event.scope, "engaged": event.engaged}
    elif isinstance(event, BookRearmed):
        message = {"type": "rearm", "book": event.book}
    else:
        message = {"type": "latch", "book": event.book, "reason": event.detail}
    return orjson.dumps({**message, "ts": event.ts_ns, "by": event.by})


def control_key(event: ControlEvent) -> str:
    """The record key: the state the record sets, `kill/<book or *>` for a kill switch and
    `latch/<book>` for a latch and the re-arm that clears it. The last record of a key is
    that state, so a compacted control topic (which keeps only the last) rebuilds the same."""
    if isinstance(event, KillSwitchSet):
        return f"kill/{event.scope}"
    return f"latch/{event.book}"


def latch_event(action: LatchBook) -> BookLatched:
    """The control-topic record of a latch the engine tripped."""
    return BookLatched(action.book, action.ts_ns, "hedger", action.detail)


def encode_cancel(cancel: CancelHedgeOrder) -> bytes:
    return orjson.dumps(
        {
            "type": "cancel",
            "order_id": cancel.order_id,
            "book": cancel.book,
            "symbol": cancel.symbol,
            "ts": cancel.ts_ns,
            "reason": cancel.reason,
        }
    )


def decode_order_event(
    raw: bytes, max_bytes: int = DEFAULT_MAX_MESSAGE_BYTES
) -> HedgeOrderRecorded | HedgeOrderCancelled:
    """Decode a record of the order topic read back on a restart: an order or a cancel."""
    obj = _load(raw, max_bytes)
    if _type(obj, frozenset({"order", "cancel"})) == "order":
        return decode_order(raw, max_bytes)
    return HedgeOrderCancelled(
        _text(obj, "order_id"),
        _text(obj, "book"),
        _timestamp(obj),
        _optional_text(obj, "reason", ""),
    )
