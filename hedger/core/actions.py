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


@dataclass(frozen=True, slots=True)
class InputRejected:
    """A well-formed message the engine cannot use; the shell sends it to the dead-letter topic.

    `kind` is a short bounded label (for metrics); `detail` explains this case.
    """

    kind: str
    detail: str


Action = SubmitHedgeOrder | InputRejected
