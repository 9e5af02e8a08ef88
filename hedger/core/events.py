"""Inputs to the engine: frozen facts, each stamped with event time in integer nanoseconds.

The engine never reads a clock; every time it needs arrives in one of these.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

import msgspec


class Side(enum.StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        """+1 for a buy, -1 for a sell: the sign of the position change."""
        return 1 if self is Side.BUY else -1

    @classmethod
    def of(cls, signed_qty: float) -> Side:
        return cls.BUY if signed_qty > 0 else cls.SELL


class PriceTick(msgspec.Struct, frozen=True, gc=False):
    """Top of book for an underlying; `mark` is the mid, or `last` when a side is missing.

    A msgspec Struct rather than a frozen dataclass, as the other events are: the most
    frequent input, it is made once per tick read, and a frozen dataclass's constructor
    (1.0 µs) cost more than decoding the tick (`benchmarks/decode.py`); a Struct takes
    0.08 µs and is just as immutable, comparable and hashable. Copy with
    `msgspec.structs.replace`. (No reference cycles can go through a tick: `gc=False`.)"""

    symbol: str
    ts_ns: int
    bid: float | None
    ask: float | None
    last: float | None
    mark: float


@dataclass(frozen=True, slots=True)
class VolUpdate:
    """Implied volatility (annualised, decimal) for an underlying, or one surface point."""

    symbol: str
    ts_ns: int
    vol: float
    expiry: dt.date | None = None
    strike: float | None = None


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """Bid and ask of a listed option (OCC symbol): its mid's implied vol is a surface point."""

    symbol: str
    ts_ns: int
    bid: float
    ask: float

    @property
    def mid(self) -> float:
        return (self.bid + self.ask) / 2.0


@dataclass(frozen=True, slots=True)
class FillReport:
    """An execution in a book: a client option trade, or a fill of one of our hedge orders."""

    fill_id: str
    book: str
    instrument: str
    side: Side
    qty: float
    price: float
    ts_ns: int
    order_id: str | None = None
    fee: float | None = None
    multiplier: float | None = None


@dataclass(frozen=True, slots=True)
class HedgeOrderRecorded:
    """A hedge order read back from the order topic while rebuilding state after a start."""

    order_id: str
    book: str
    symbol: str
    side: Side
    qty: float
    ts_ns: int
    ref_price: float


@dataclass(frozen=True, slots=True)
class RecoveryCompleted:
    """State has been rebuilt from the fill and order topics: hedging may start."""

    ts_ns: int


@dataclass(frozen=True, slots=True)
class HedgeOrderCancelled:
    """A cancel of one of our hedge orders, read back from the order topic while rebuilding."""

    order_id: str
    book: str
    ts_ns: int
    reason: str = ""  # why it was cancelled: "timeout", "kill_switch"


@dataclass(frozen=True, slots=True)
class TimerFired:
    """Event time has reached `ts_ns`: time-driven decisions (timed rebalancing, working-order
    timeouts) run now. The shell fires it from event time, so a replay fires the same timers."""

    ts_ns: int


@dataclass(frozen=True, slots=True)
class QuoteCrossed:
    """A tick whose bid was above its ask (dead-lettered): the underlying's feed is suspect."""

    symbol: str
    ts_ns: int


@dataclass(frozen=True, slots=True)
class FeedTiming:
    """The shell's wall-clock judgment of an underlying's ticks, when it changes: `problem`
    is "late_tick" (older than HEDGER_MAX_TICK_AGE_MS when received) or "clock_skew"
    (stamped ahead of this host's clock), None once its ticks are on time again. Event time
    cannot tell either; while one is set, nothing is hedged on the underlying."""

    symbol: str
    ts_ns: int
    problem: str | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class KillSwitchSet:
    """The kill switch for one book, or for all (`scope` "*"), engaged or released."""

    scope: str
    engaged: bool
    ts_ns: int
    by: str


@dataclass(frozen=True, slots=True)
class BookLatched:
    """A book stopped by the flip-flop latch, as recorded on the control topic."""

    book: str
    ts_ns: int
    by: str
    detail: str = ""


@dataclass(frozen=True, slots=True)
class BookRearmed:
    """A person re-armed a latched book: it may hedge again."""

    book: str
    ts_ns: int
    by: str


ControlEvent = KillSwitchSet | BookLatched | BookRearmed

Event = (
    PriceTick
    | VolUpdate
    | OptionQuote
    | FillReport
    | HedgeOrderRecorded
    | HedgeOrderCancelled
    | RecoveryCompleted
    | TimerFired
    | QuoteCrossed
    | FeedTiming
    | ControlEvent
)
