"""The paper exchange's cost model: prices, fees, times and partial fills, worked by hand."""

from __future__ import annotations

import argparse

import pytest

from hedger.core.events import HedgeOrderRecorded, Side
from producers.execution import (
    CostModel,
    add_cost_arguments,
    cost_model,
    plan_fills,
    price_fill,
)

T0 = 1_795_185_000_000_000_000
MS = 1_000_000


def order(side: Side = Side.BUY, qty: float = 1000, order_id: str = "H-1") -> HedgeOrderRecorded:
    return HedgeOrderRecorded(order_id, "mm-1", "XYZ", side, qty, T0, ref_price=100.0)


def fills(model: CostModel, mark: float | None, hedge: HedgeOrderRecorded) -> list:  # type: ignore[type-arg]
    return [price_fill(hedge, planned, mark, model) for planned in plan_fills(hedge, model)]


def test_buy_pays_mark_plus_half_spread_plus_linear_impact_and_both_commissions() -> None:
    model = CostModel(
        half_spread=0.01,
        impact_per_share=0.00002,
        commission_per_share=0.005,
        commission_per_order=1.0,
        latency_ms=25,
    )
    (fill,) = fills(model, 100.50, order(Side.BUY, 1000))
    # 100.50 + 0.01 + 0.00002 × 1000 = 100.53; fee 0.005 × 1000 + 1 = 6.
    assert fill.price == pytest.approx(100.53)
    assert fill.fee == pytest.approx(6.0)
    assert (fill.fill_id, fill.order_id, fill.instrument) == ("PX-H-1", "H-1", "XYZ")
    assert (fill.side, fill.qty, fill.ts_ns) == (Side.BUY, 1000, T0 + 25 * MS)


def test_sell_receives_mark_minus_half_spread_minus_impact() -> None:
    model = CostModel(half_spread=0.05, impact_per_share=0.0001)
    (fill,) = fills(model, 50.0, order(Side.SELL, 300))
    assert fill.price == pytest.approx(50.0 - 0.05 - 0.03)
    assert fill.fee == 0.0


def test_no_mark_fills_at_order_reference_price() -> None:
    (fill,) = fills(CostModel(half_spread=0.02), None, order(Side.BUY, 10))
    assert fill.price == pytest.approx(100.02)


def test_costs_pushing_a_sell_to_zero_raise() -> None:
    with pytest.raises(ValueError, match="not positive"):
        fills(CostModel(half_spread=0.5), 0.4, order(Side.SELL, 1))


def test_partial_fills_split_whole_shares_in_time_with_order_commission_once() -> None:
    model = CostModel(
        commission_per_share=0.01,
        commission_per_order=2.0,
        latency_ms=5,
        max_slices=4,
        slice_interval_ms=10,
        seed=3,
    )
    hedge = order(Side.BUY, 1000)
    planned = plan_fills(hedge, model)
    assert sum(p.qty for p in planned) == 1000
    assert all(p.qty >= 1 and float(p.qty).is_integer() for p in planned)
    assert [p.ts_ns for p in planned] == [T0 + (5 + 10 * k) * MS for k in range(len(planned))]
    fees = [p.fee for p in planned]
    assert fees[0] == pytest.approx(2.0 + 0.01 * planned[0].qty)
    assert fees[1:] == pytest.approx([0.01 * p.qty for p in planned[1:]])
    if len(planned) > 1:
        assert [p.fill_id for p in planned] == [f"PX-H-1-{k}" for k in range(1, len(planned) + 1)]


def test_partial_fills_deterministic_for_seed_and_order_id() -> None:
    model = CostModel(max_slices=5, seed=11)
    slices = {
        order_id: [p.qty for p in plan_fills(order(order_id=order_id), model)]
        for order_id in (f"H-{n}" for n in range(30))
    }
    again = {oid: [p.qty for p in plan_fills(order(order_id=oid), model)] for oid in slices}
    other_seed = CostModel(max_slices=5, seed=12)
    differs = {oid: [p.qty for p in plan_fills(order(order_id=oid), other_seed)] for oid in slices}
    assert again == slices
    assert differs != slices
    assert {len(qtys) for qtys in slices.values()} > {1}  # some orders really are split


def test_partial_fills_never_more_slices_than_shares() -> None:
    planned = plan_fills(order(qty=2), CostModel(max_slices=10, seed=1))
    assert 1 <= len(planned) <= 2
    assert sum(p.qty for p in planned) == 2


@pytest.mark.parametrize(
    "field",
    ["half_spread", "impact_per_share", "commission_per_share", "commission_per_order"],
)
def test_cost_model_negative_or_nan_amount_refused(field: str) -> None:
    with pytest.raises(ValueError, match="must be >= 0"):
        CostModel(**{field: -0.01})
    with pytest.raises(ValueError, match="must be >= 0"):
        CostModel(**{field: float("nan")})


def test_cost_model_zero_slices_refused() -> None:
    with pytest.raises(ValueError, match="slices >= 1"):
        CostModel(max_slices=0)


def test_cost_arguments_parse_into_cost_model() -> None:
    parser = argparse.ArgumentParser()
    add_cost_arguments(parser)
    args = parser.parse_args(
        [
            "--half-spread",
            "0.01",
            "--impact",
            "1e-5",
            "--commission",
            "1",
            "--commission-per-share",
            "0.005",
            "--latency-ms",
            "20",
            "--partial-fills",
            "3",
            "--slice-interval-ms",
            "7",
            "--fill-seed",
            "9",
        ]
    )
    assert cost_model(args) == CostModel(0.01, 1e-5, 0.005, 1.0, 20, 3, 7, 9)
