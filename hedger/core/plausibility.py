"""Plausibility limits: well-formed input that no feed or venue can mean, refused with a
reason before it reaches any state (the shell dead-letters it).

The codec refuses what is malformed (NaN, negative prices, a crossed quote); these refuse
what is absurd though well formed: a price of 1e300 would make every Greek meaningless, a
vol of 1e300 makes delta NaN, a fill of 2^70 contracts would be hedged for real, and a
book nobody configured may be a typo that splits a book in two. Each limit is a setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hedger.core.actions import InputRejected
from hedger.core.events import FillReport, OptionQuote, PriceTick, VolUpdate


@dataclass(frozen=True, slots=True)
class PlausibilityLimits:
    max_price: float = 1e7  # a tick's bid, ask or last, an option quote side, a fill price
    max_vol: float = 5.0  # 500%
    max_fill_qty: float = 1e7  # shares or contracts in one fill
    books: frozenset[str] = field(default_factory=frozenset)  # empty: any book

    def __post_init__(self) -> None:
        if not (self.max_price > 0 and self.max_vol > 0 and self.max_fill_qty > 0):
            raise ValueError(f"invalid plausibility limits {self}: each must be positive")


def implausible(
    event: PriceTick | VolUpdate | OptionQuote | FillReport, limits: PlausibilityLimits
) -> InputRejected | None:
    """Why `event` cannot be meant, or None when it is plausible."""
    if isinstance(event, PriceTick):
        return _price(limits, event.bid, event.ask, event.last)
    if isinstance(event, OptionQuote):
        return _price(limits, event.bid, event.ask)
    if isinstance(event, VolUpdate):
        if event.vol > limits.max_vol:
            return InputRejected(
                "implausible_vol", f"vol {event.vol:g} is above {limits.max_vol:g}"
            )
        return None
    if limits.books and event.book not in limits.books:
        return InputRejected("unknown_book", f"{event.book!r} is not a configured book")
    if event.qty > limits.max_fill_qty:
        return InputRejected(
            "implausible_quantity", f"{event.qty:g} is above {limits.max_fill_qty:g} a fill"
        )
    return _price(limits, event.price)


def _price(limits: PlausibilityLimits, *prices: float | None) -> InputRejected | None:
    highest = max((price for price in prices if price is not None), default=0.0)
    if highest > limits.max_price:
        return InputRejected(
            "implausible_price", f"price {highest:g} is above {limits.max_price:g}"
        )
    return None
