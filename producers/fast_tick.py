"""The replayer's shortcut for the commonest message: a tick the codec is sure to accept.

`hedger.codec.decode_price` builds a `PriceTick` to check a tick (about 8 µs); the replayer
only needs to know the tick is valid, its symbol and its time, and forwards the original
bytes. `tick_record` answers from one orjson parse and a few type checks (about 2 µs).
It only ever accepts: whatever it is unsure of (a vol, a fill, any doubt about a tick)
returns None and goes to the codec, which decides and gives the reason. So it must accept
nothing the codec refuses — tests/producers/test_replay_routing.py checks that against the
codec on generated messages — and may pass over valid ticks, at the codec's cost.

The codec's rules for a tick: at most `DEFAULT_MAX_MESSAGE_BYTES`; a JSON object with
`type` "tick"; `symbol` an underlying ticker; `ts` a positive integer; each of `bid`, `ask`,
`last` absent, null or a finite positive number (not a boolean); and either both `bid` and
`ask` with `bid <= ask`, or `last`.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from hedger.codec import DEFAULT_MAX_MESSAGE_BYTES
from hedger.core.instruments import is_underlying_symbol

# Feeds hold a handful of symbols; the bound only stops a file of random ones growing it.
_MAX_CACHED_SYMBOLS = 4096


def tick_record(
    value: bytes, topic: str, symbol_keys: dict[str, bytes]
) -> tuple[str, bytes, bytes, int] | None:
    """`(topic, key, value, ts_ns)` for a tick the codec accepts, else None (unsure).

    `symbol_keys` caches the key of each symbol already found to be an underlying ticker;
    pass the same dict for every message of a recording.
    """
    if len(value) > DEFAULT_MAX_MESSAGE_BYTES:
        return None
    try:
        obj = orjson.loads(value)
    except orjson.JSONDecodeError:
        return None
    if type(obj) is not dict or obj.get("type") != "tick":
        return None
    ts_ns = obj.get("ts")
    if type(ts_ns) is not int or ts_ns <= 0:
        return None
    key = _symbol_key(obj.get("symbol"), symbol_keys)
    if key is None or not _prices_valid(obj.get("bid"), obj.get("ask"), obj.get("last")):
        return None
    return topic, key, value, ts_ns


def _symbol_key(symbol: Any, symbol_keys: dict[str, bytes]) -> bytes | None:
    if type(symbol) is not str:
        return None
    key = symbol_keys.get(symbol)
    if key is None and is_underlying_symbol(symbol):
        key = symbol.encode()
        if len(symbol_keys) < _MAX_CACHED_SYMBOLS:
            symbol_keys[symbol] = key
    return key


def _prices_valid(bid: Any, ask: Any, last: Any) -> bool:
    if not (_price_or_none(bid) and _price_or_none(ask) and _price_or_none(last)):
        return False
    if bid is not None and ask is not None:
        return bool(bid <= ask)
    return last is not None


def _price_or_none(value: Any) -> bool:
    # type() rather than isinstance(): a JSON true is a bool, never a price.
    if value is None:
        return True
    return (type(value) is float or type(value) is int) and 0 < value < math.inf
