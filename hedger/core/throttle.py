"""Rate limits on event time: token buckets, one per book and one for all books.

A bucket holds up to `capacity` tokens and refills at `per_minute / 60` tokens per second
of event time; an order takes one token, and none leaves while less than one is left. So
over any stretch of event time of length W, at most `capacity + rate × W` orders leave.
Event time can step back a little between sources (a fill stamped before the last tick):
time never runs backwards in a bucket, it only stops refilling until it catches up.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

_NANOS_PER_MINUTE = 60_000_000_000


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most `per_minute` orders a minute on average, `burst` back to back."""

    per_minute: float
    burst: float

    def __post_init__(self) -> None:
        if not (0 < self.per_minute < math.inf and 1 <= self.burst < math.inf):
            raise ValueError(f"invalid rate limit {self}: per_minute > 0 and burst >= 1 needed")


@dataclass(slots=True)
class TokenBucket:
    limit: RateLimit
    tokens: float = field(init=False)
    updated_ns: int | None = field(default=None, init=False)
    # The refusal's detail, written once: a refused bucket is asked again on every tick.
    description: str = field(init=False)

    def __post_init__(self) -> None:
        self.tokens = self.limit.burst
        self.description = f"over {self.limit.per_minute:g}/min, burst {self.limit.burst:g}"

    def _refill(self, ts_ns: int) -> None:
        if self.updated_ns is None:
            self.updated_ns = ts_ns
            return
        elapsed_ns = ts_ns - self.updated_ns
        if elapsed_ns > 0:
            earned = elapsed_ns * self.limit.per_minute / _NANOS_PER_MINUTE
            self.tokens = min(self.limit.burst, self.tokens + earned)
            self.updated_ns = ts_ns

    def available(self, ts_ns: int, orders: int = 1) -> bool:
        """True when `orders` orders may leave at `ts_ns` (refills first; takes nothing)."""
        self._refill(ts_ns)
        return self.tokens >= orders

    def take(self, ts_ns: int) -> None:
        """Spend one token at `ts_ns` (may go below zero for an order read back on a restart,
        so a restart cannot refill the budget)."""
        self._refill(ts_ns)
        self.tokens -= 1.0


class Throttle:
    """The per-book buckets and the one for all books."""

    def __init__(self, total: RateLimit) -> None:
        self._total = TokenBucket(total)
        self._books: dict[str, TokenBucket] = {}

    def _bucket(self, book: str, limit: RateLimit) -> TokenBucket:
        bucket = self._books.get(book)
        if bucket is None:
            bucket = self._books[book] = TokenBucket(limit)
        return bucket

    def refusal(
        self, book: str, limit: RateLimit, ts_ns: int, orders: int = 1
    ) -> tuple[str, str] | None:
        """(reason, detail) when `orders` orders of `book` may not leave at `ts_ns`."""
        bucket = self._bucket(book, limit)
        if not bucket.available(ts_ns, orders):
            return "rate_limit_book", bucket.description
        if not self._total.available(ts_ns, orders):
            return "rate_limit_total", self._total.description
        return None

    def take(self, book: str, limit: RateLimit, ts_ns: int) -> None:
        self._bucket(book, limit).take(ts_ns)
        self._total.take(ts_ns)
