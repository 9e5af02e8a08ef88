"""The paper exchange's cost model, pure: how a hedge order fills. The live paper exchange
and `hedger backtest` (in process, no Kafka) both fill through these functions.

An order of q shares fills `latency_ms` after its time, at the mark as of the fill's own
time (the last tick at or before it; the order's `ref_price` when there is none):

    price = mark + side × (half_spread + impact_per_share × fill shares)     side: +1 buy, −1 sell
    fee   = commission_per_share × fill shares (+ commission_per_order on the order's first fill)

Linear impact: each share of a fill moves its price `impact_per_share` (currency per share
per share) against the hedger. All amounts are currency per share except the fee.

Partial fills (`max_slices` > 1): the order fills in 1 to `max_slices` slices of whole
shares, the k-th (from 0) `latency_ms + k × slice_interval_ms` after the order. How many
slices and their sizes are drawn from a generator seeded by `seed` and the order id, so a
seed gives the same fills whatever else is traded and in whatever order orders arrive.
Fill ids are `PX-<order_id>` for a whole fill and `PX-<order_id>-<k>` (k from 1) for slices.
"""

from __future__ import annotations

import argparse
import itertools
import random
from dataclasses import dataclass
from typing import Protocol

from hedger.core.events import FillReport, Side

FILL_ID_PREFIX = "PX-"
_NS_PER_MS = 1_000_000


class Order(Protocol):
    """What filling needs of an order: a decoded `HedgeOrderRecorded` or a `SubmitHedgeOrder`."""

    @property
    def order_id(self) -> str: ...
    @property
    def book(self) -> str: ...
    @property
    def symbol(self) -> str: ...
    @property
    def side(self) -> Side: ...
    @property
    def qty(self) -> float: ...
    @property
    def ts_ns(self) -> int: ...
    @property
    def ref_price(self) -> float: ...


@dataclass(frozen=True, slots=True)
class CostModel:
    """See the module docstring; every field must be >= 0 and `max_slices` >= 1."""

    half_spread: float = 0.0
    impact_per_share: float = 0.0
    commission_per_share: float = 0.0
    commission_per_order: float = 0.0
    latency_ms: int = 0
    max_slices: int = 1
    slice_interval_ms: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        amounts = (
            self.half_spread,
            self.impact_per_share,
            self.commission_per_share,
            self.commission_per_order,
            self.latency_ms,
            self.slice_interval_ms,
        )
        # Written so that NaN fails too.
        if not all(amount >= 0 for amount in amounts) or not self.max_slices >= 1:
            raise ValueError(f"costs, latency and intervals must be >= 0, slices >= 1: {self}")


@dataclass(frozen=True, slots=True)
class PlannedFill:
    """One fill of an order, before it is priced: when, how many shares, its id and fee."""

    fill_id: str
    ts_ns: int
    qty: float
    fee: float


def plan_fills(order: Order, model: CostModel) -> list[PlannedFill]:
    """The fills `order` will get under `model`, in time order."""
    sizes = _slice_sizes(order, model)
    first_ns = order.ts_ns + model.latency_ms * _NS_PER_MS
    interval_ns = model.slice_interval_ms * _NS_PER_MS
    whole = len(sizes) == 1
    return [
        PlannedFill(
            fill_id=FILL_ID_PREFIX + order.order_id + ("" if whole else f"-{index + 1}"),
            ts_ns=first_ns + index * interval_ns,
            qty=size,
            fee=model.commission_per_share * size
            + (model.commission_per_order if index == 0 else 0),
        )
        for index, size in enumerate(sizes)
    ]


def price_fill(
    order: Order, planned: PlannedFill, mark: float | None, model: CostModel
) -> FillReport:
    """The fill report of `planned` at `mark` (the order's `ref_price` when None).
    Raises ValueError when costs would push a sell to a price <= 0."""
    base = order.ref_price if mark is None else mark
    concession = model.half_spread + model.impact_per_share * planned.qty
    price = base + order.side.sign * concession
    if price <= 0:
        raise ValueError(f"fill price {price!r} for order {order.order_id!r} is not positive")
    return FillReport(
        fill_id=planned.fill_id,
        book=order.book,
        instrument=order.symbol,
        side=order.side,
        qty=planned.qty,
        price=price,
        ts_ns=planned.ts_ns,
        order_id=order.order_id,
        fee=planned.fee,
    )


def _slice_sizes(order: Order, model: CostModel) -> list[float]:
    whole_shares = float(order.qty).is_integer()
    most = min(model.max_slices, int(order.qty)) if whole_shares else model.max_slices
    if most <= 1:
        return [order.qty]
    draw = random.Random(f"{model.seed}|{order.order_id}")
    count = draw.randint(1, most)
    if not whole_shares:
        return [order.qty / count] * count
    cuts = sorted(draw.sample(range(1, int(order.qty)), count - 1))
    bounds = [0, *cuts, int(order.qty)]
    return [float(high - low) for low, high in itertools.pairwise(bounds)]


def add_cost_arguments(parser: argparse.ArgumentParser) -> None:
    """The cost model's command-line options (paper exchange and backtest share them)."""
    costs = parser.add_argument_group("paper exchange costs")
    costs.add_argument("--half-spread", type=float, default=0.0, help="currency per share")
    costs.add_argument(
        "--impact", type=float, default=0.0, help="price impact, currency per share per share"
    )
    costs.add_argument("--commission", type=float, default=0.0, help="fee per order, currency")
    costs.add_argument(
        "--commission-per-share", type=float, default=0.0, help="fee per share, currency"
    )
    costs.add_argument("--latency-ms", type=int, default=0, help="order to fill (default: 0)")
    costs.add_argument(
        "--partial-fills", type=int, default=1, metavar="N", help="up to N slices per order"
    )
    costs.add_argument("--slice-interval-ms", type=int, default=1, help="between slices")
    costs.add_argument("--fill-seed", type=int, default=0, help="seed of the partial fills")


def cost_model(args: argparse.Namespace) -> CostModel:
    """The CostModel of `add_cost_arguments`' options; raises ValueError on bad ones."""
    return CostModel(
        half_spread=args.half_spread,
        impact_per_share=args.impact,
        commission_per_share=args.commission_per_share,
        commission_per_order=args.commission,
        latency_ms=args.latency_ms,
        max_slices=args.partial_fills,
        slice_interval_ms=args.slice_interval_ms,
        seed=args.fill_seed,
    )
