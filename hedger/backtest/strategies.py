"""The strategies a backtest compares, side by side on the same paths.

* `no hedge`: the engine runs with an infinite band, so it never sends an order.
* `static`: hedge once at inception: after each recorded client trade, the backtest sends
  one order that brings that book's net delta on the underlying back to the target (in
  whole lots), and never rebalances; the engine runs with an infinite band.
* dynamic: the engine decides, under a band policy. A policy is written
  `band=100,lot=10,interval=1h,name=...`: `band` is `band_shares`, `lot` is `lot_size`,
  `interval` is `min_interval_ns` (at most one order per interval), `every` is
  `rebalance_every_ns` (rebalance on timers, once per interval: the rebalancing
  frequency), `target` is `target_delta`; any other `BandPolicy` field may be given by its
  own name. Durations take `ns`, `us`, `ms`, `s`, `m`, `h` or `d`. Unnamed fields keep the
  configured policy's values (`HEDGER_HEDGE_BAND_SHARES` and friends). A dynamic policy
  applies to every book.
* configured (when no policy is given): the configuration as it is, books' own policies
  and gamma/vega hedging included.

`no hedge` and `static` also turn off every book's gamma/vega hedging.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
from dataclasses import dataclass
from typing import Any

from hedger.core.engine import EngineConfig
from hedger.core.policy import BandPolicy

NONE, STATIC, DYNAMIC, CONFIGURED = "none", "static", "dynamic", "configured"
_ALIASES = {
    "band": "band_shares",
    "lot": "lot_size",
    "interval": "min_interval_ns",
    "target": "target_delta",
    "every": "rebalance_every_ns",
}
_DURATION = re.compile(r"([0-9]*\.?[0-9]+)\s*(ns|us|ms|s|m|h|d)?", re.ASCII)
_NS_PER = {"ns": 1, "us": 10**3, "ms": 10**6, "s": 10**9, "m": 60 * 10**9}
_NS_PER |= {"h": 3600 * 10**9, "d": 86_400 * 10**9}


@dataclass(frozen=True, slots=True)
class Strategy:
    """One way to hedge; `policy` is set for dynamic and configured strategies."""

    name: str
    kind: str
    policy: BandPolicy | None = None


NO_HEDGE = Strategy("no hedge", NONE)
STATIC_HEDGE = Strategy("static", STATIC)


def parse_duration_ns(text: str) -> int:
    """`90s`, `1.5h`, `250ms`, `1d` (a bare number is nanoseconds) → integer nanoseconds."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30s, 5m, 1h or 1d")
    return round(float(match[1]) * _NS_PER[match[2] or "ns"])


def describe_duration(ns: int) -> str:
    """The shortest exact spelling of `ns` in the largest whole unit."""
    for unit in ("d", "h", "m", "s", "ms", "us"):
        if ns and ns % _NS_PER[unit] == 0:
            return f"{ns // _NS_PER[unit]}{unit}"
    return f"{ns}ns"


def parse_policy(spec: str, base: BandPolicy) -> Strategy:
    """A dynamic strategy from `spec` (see the module docstring); raises ValueError."""
    fields = {field.name: field for field in dataclasses.fields(BandPolicy)}
    changes: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        key, separator, text = (part.strip() for part in item.partition("="))
        name = _ALIASES.get(key, key)
        if not separator or name not in fields:
            raise ValueError(f"{item!r}: expected FIELD=VALUE with FIELD in {sorted(_ALIASES)}")
        changes[name] = _value(name, text, getattr(base, name))
    changes.setdefault("name", _default_name(changes, base))
    return Strategy(changes["name"], DYNAMIC, dataclasses.replace(base, **changes))


def _value(name: str, text: str, current: Any) -> Any:
    if name.endswith("_ns"):
        return parse_duration_ns(text)
    if isinstance(current, enum.Enum):
        return type(current)(text)
    if isinstance(current, bool):
        return text.lower() in ("1", "true", "yes")
    if isinstance(current, int):
        return int(text)
    if isinstance(current, float) or current is None:
        return float(text)
    return text


def _default_name(changes: dict[str, Any], base: BandPolicy) -> str:
    policy = dataclasses.replace(base, **changes)
    name = f"band {policy.band_shares:g}"
    if policy.rebalance_every_ns:
        name += f" every {describe_duration(policy.rebalance_every_ns)}"
    if policy.min_interval_ns:
        name += f" min {describe_duration(policy.min_interval_ns)}"
    return name


def configured_strategy(base: BandPolicy) -> Strategy:
    """The configuration as it is: its default policy, and books' own policies if any."""
    return Strategy(_default_name({}, base), CONFIGURED, base)


def engine_config_for(strategy: Strategy, base: EngineConfig) -> EngineConfig:
    """The engine configuration a strategy runs with: a dynamic policy applies to every
    book; no hedge and static also turn off every book's gamma/vega hedging."""
    if strategy.kind == CONFIGURED:
        return base
    if strategy.policy is not None:
        books = tuple(
            (book, dataclasses.replace(setup, policy=strategy.policy)) for book, setup in base.books
        )
        return dataclasses.replace(base, policy=strategy.policy, books=books)
    never = BandPolicy(band_shares=math.inf, lot_size=base.policy.lot_size, name=strategy.kind)
    books = tuple(
        (book, dataclasses.replace(setup, policy=never, gamma_vega=()))
        for book, setup in base.books
    )
    return dataclasses.replace(base, policy=never, books=books)
