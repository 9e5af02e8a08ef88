"""The policy file (`HEDGER_POLICY_FILE`, TOML): hedging policy and limits per book.

`[default]` applies to every book, `[books.<book>]` overrides it key by key for one book,
and `[books.<book>.gamma_vega.<underlying>]` turns on gamma/vega hedging with listed
options. Keys left out keep the value from the environment settings (band, target, lot,
minimum interval) or the built-in default. docs/concepts/policies.md lists
every key; an unknown key, a wrong type or a bad value stops the service at start.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from hedger.core.controls import BookLimits
from hedger.core.decisions import BookSetup
from hedger.core.instruments import InstrumentError, OptionContract, parse_instrument
from hedger.core.option_hedge import GammaVegaPolicy, GreekRanges
from hedger.core.policy import BandPolicy, BandWidth, HedgeTo
from hedger.core.throttle import RateLimit

_NANOS_PER_MS = 1_000_000
_NANOS_PER_S = 1_000_000_000


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, got {value!r}")
    return float(value)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value


def _nanos(scale: int) -> Callable[[Any], int]:
    def convert(value: Any) -> int:
        number = _number(value)
        if not math.isfinite(number):
            raise ValueError(f"must be finite, got {value!r}")
        return round(number * scale)

    return convert


def _pair(value: Any) -> tuple[float, float]:
    if not isinstance(value, list) or len(value) != 2:
        raise ValueError(f"must be a [low, high] pair, got {value!r}")
    return _number(value[0]), _number(value[1])


# key in the file -> (field of BandPolicy, conversion)
_POLICY_KEYS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "name": ("name", _text),
    "band": ("width", lambda value: BandWidth(_text(value))),
    "band_shares": ("band_shares", _number),
    "band_currency": ("band_currency", _number),
    "band_gamma_moves": ("band_gamma_moves", _number),
    "cost_fraction": ("cost_fraction", _number),
    "risk_aversion": ("risk_aversion", _number),
    "target_delta": ("target_delta", _number),
    "hedge_to": ("hedge_to", lambda value: HedgeTo(_text(value))),
    "lot_size": ("lot_size", _number),
    "min_order_shares": ("min_order_shares", _number),
    "min_interval_ms": ("min_interval_ns", _nanos(_NANOS_PER_MS)),
    "rebalance_every_s": ("rebalance_every_ns", _nanos(_NANOS_PER_S)),
    "leland_cost": ("leland_cost", _number),
    "leland_interval_s": ("leland_interval_ns", _nanos(_NANOS_PER_S)),
}
_LIMIT_KEYS = frozenset(
    {
        "max_order_shares",
        "max_order_notional",
        "max_position_shares",
        "max_notional_per_minute",
        "loss_limit",
    }
)
_RATE_KEYS = frozenset({"orders_per_minute", "order_burst"})
_BOOK_KEYS = frozenset({*_POLICY_KEYS, "target_range", *_LIMIT_KEYS, *_RATE_KEYS, "gamma_vega"})
_GAMMA_VEGA_KEYS = frozenset(
    {"options", "gamma_range", "vega_range", "half_spread", "commission_per_contract", "every_s"}
)


def parse_policy_file(
    document: Mapping[str, Any], base: BookSetup
) -> tuple[BookSetup, tuple[tuple[str, BookSetup], ...]]:
    """(the default setup, each book's setup) from a parsed TOML document. Raises
    ValueError naming the table and key of the first problem."""
    _only(document, frozenset({"default", "books"}), "the file")
    default_table = _table(document.get("default", {}), "default")
    if "gamma_vega" in default_table:
        raise ValueError("default.gamma_vega: gamma/vega hedging is configured per book")
    default = _setup(default_table, base, "default")
    books = _table(document.get("books", {}), "books")
    return default, tuple(
        (book, _setup(_table(table, f"books.{book}"), default, f"books.{book}"))
        for book, table in books.items()
    )


def _table(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: must be a table, got {value!r}")
    return value


def _only(table: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; known: {sorted(allowed)}")


def _setup(table: Mapping[str, Any], base: BookSetup, where: str) -> BookSetup:
    _only(table, _BOOK_KEYS, where)
    try:
        policy = _policy(table, base.policy)
        limits = _limits(table, base.limits)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{where}: {error}") from None
    gamma_vega = tuple(
        (symbol, _gamma_vega(symbol, _table(spec, f"{where}.gamma_vega.{symbol}"), where))
        for symbol, spec in _table(table.get("gamma_vega", {}), f"{where}.gamma_vega").items()
    )
    return BookSetup(policy, limits, gamma_vega or base.gamma_vega)


def _policy(table: Mapping[str, Any], base: BandPolicy) -> BandPolicy:
    changes = {}
    for key, (field, convert) in _POLICY_KEYS.items():
        if key in table:
            changes[field] = _converted(key, table[key], convert)
    if "target_range" in table:
        if "target_delta" in table:
            raise ValueError("give target_delta or target_range, not both")
        changes["target_delta"], changes["target_delta_high"] = _converted(
            "target_range", table["target_range"], _pair
        )
    if "width" in changes and "name" not in changes:
        width = changes["width"]
        changes["name"] = "band" if width is BandWidth.SHARES else width.value
    return dataclasses.replace(base, **changes)


def _converted(key: str, value: Any, convert: Callable[[Any], Any]) -> Any:
    try:
        return convert(value)
    except ValueError as error:
        raise ValueError(f"{key} {error}") from None


def _limits(table: Mapping[str, Any], base: BookLimits) -> BookLimits:
    changes: dict[str, Any] = {
        key: _converted(key, table[key], _number) for key in _LIMIT_KEYS if key in table
    }
    if _RATE_KEYS & set(table):
        changes["rate"] = RateLimit(
            per_minute=_converted(
                "orders_per_minute", table.get("orders_per_minute", base.rate.per_minute), _number
            ),
            burst=_converted("order_burst", table.get("order_burst", base.rate.burst), _number),
        )
    return dataclasses.replace(base, **changes)


def _gamma_vega(symbol: str, spec: Mapping[str, Any], where: str) -> GammaVegaPolicy:
    where = f"{where}.gamma_vega.{symbol}"
    _only(spec, _GAMMA_VEGA_KEYS, where)
    try:
        options = tuple(_option_on(symbol, name) for name in spec.get("options", []))
        return GammaVegaPolicy(
            options=options,
            targets=GreekRanges(
                _converted("gamma_range", spec.get("gamma_range"), _pair),
                _converted("vega_range", spec.get("vega_range"), _pair),
            ),
            half_spread=_converted("half_spread", spec.get("half_spread", 0.0), _number),
            commission_per_contract=_converted(
                "commission_per_contract", spec.get("commission_per_contract", 0.0), _number
            ),
            every_ns=_converted("every_s", spec.get("every_s", 60), _nanos(_NANOS_PER_S)),
        )
    except (ValueError, InstrumentError) as error:
        raise ValueError(f"{where}: {error}") from None


def _option_on(symbol: str, name: Any) -> str:
    # Its two-digit year read near now; the engine reads it again near each decision.
    contract = parse_instrument(_text(name), time.time_ns())
    if not isinstance(contract, OptionContract) or contract.root != symbol:
        raise ValueError(f"options: {name!r} is not a listed option on {symbol}")
    return contract.occ_symbol
