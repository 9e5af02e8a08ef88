"""Outputs of the engine: commands for the shell to carry out, and refusals of input."""

from __future__ import annotations

from dataclasses import dataclass

from hedger.core.events import Side


@dataclass(frozen=True, slots=True)
class SubmitHedgeOrder:
    """Send a hedge order. `order_id` is derived from the inputs, so a replay re-derives it."""

    order_id: str
    book: str
    symbol: str
    side: Side
    qty: float
    ts_ns: int
    ref_price: float
    reason: str
    delta_before: float
    target_delta: float
    policy: str
    trigger: str
    # A limit order's price, collared around the mark; None for a market order.
    limit_price: float | None = None


@dataclass(frozen=True, slots=True)
class HedgeDenied:
    """An order the policy wanted and a throttle or pre-trade control refused or skipped.

    `reason` is a short bounded label (for metrics); `detail` explains this case.
    `new_episode` is True for the first refusal of a run of refusals of the same book,
    symbol and reason, so the shell logs each episode once rather than on every tick.
    """

    book: str
    symbol: str
    reason: str
    detail: str
    ts_ns: int
    trigger: str
    policy: str
    new_episode: bool


@dataclass(frozen=True, slots=True)
class LatchBook:
    """Record on the control topic that a latch (the flip-flop latch, or a fill id reused
    in the book with other terms) stopped `book`, so that a restart finds it stopped; it
    stays stopped until a person re-arms it."""

    book: str
    ts_ns: int
    detail: str


@dataclass(frozen=True, slots=True)
class CancelHedgeOrder:
    """Cancel a working hedge order: it outlived the working-order timeout (`reason`
    "timeout"), or a kill switch was engaged over its book ("kill_switch")."""

    order_id: str
    book: str
    symbol: str
    ts_ns: int
    reason: str


@dataclass(frozen=True, slots=True)
class InputRejected:
    """A well-formed message the engine cannot use; the shell sends it to the dead-letter topic.

    `kind` is a short bounded label (for metrics); `detail` explains this case.
    """

    kind: str
    detail: str


Action = SubmitHedgeOrder | InputRejected | HedgeDenied | LatchBook | CancelHedgeOrder
