"""A backtest's orders and fills, one row each, for JSON and CSV: what a quant compares
trade by trade against another system.

Money per row: a fill's `slippage` is what it paid over its order's arrival mark
(`ref_price`), signed so that a cost is positive (`PathResult.fill_slippage`), as the
summary's slippage adds it up. An order's row sums its fills.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from hedger.backtest.compare import Comparison
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.events import FillReport

# When, what and how much: the columns an order and a fill share.
_TRADE = ("ts_ns", "time", "book", "symbol", "side", "qty")
ORDER_COLUMNS = (
    *("strategy", "path", "order_id", *_TRADE, "ref_price", "limit_price", "reason"),
    *("trigger", "policy", "delta_before", "target_delta", "filled_qty", "avg_fill_price"),
    *("fees", "slippage"),
)
FILL_COLUMNS = ("strategy", "path", "fill_id", "order_id", *_TRADE, "price", "fee", "slippage")


def order_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """Every hedge order of every strategy and path, with what its fills came to."""
    rows = []
    for strategy, path, result in _runs(comparison):
        fills_of: dict[str, list[tuple[FillReport, float]]] = {}
        for fill, slippage in zip(result.hedge_fills, result.fill_slippage, strict=True):
            fills_of.setdefault(fill.order_id or "", []).append((fill, slippage))
        for order in result.orders:
            rows.append(_order_row(strategy, path, order, fills_of.get(order.order_id, [])))
    return rows


def fill_rows(comparison: Comparison) -> list[dict[str, Any]]:
    """Every fill of a hedge order, of every strategy and path."""
    rows = []
    for strategy, path, result in _runs(comparison):
        for fill, slippage in zip(result.hedge_fills, result.fill_slippage, strict=True):
            rows.append(
                {
                    "strategy": strategy,
                    "path": path,
                    "fill_id": fill.fill_id,
                    "order_id": fill.order_id,
                    "ts_ns": fill.ts_ns,
                    "time": _time(fill.ts_ns),
                    "book": fill.book,
                    "symbol": fill.instrument,
                    "side": fill.side.value,
                    "qty": fill.qty,
                    "price": fill.price,
                    "fee": fill.fee or 0.0,
                    "slippage": slippage,
                }
            )
    return rows


def write_csv(path: Path, columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def _runs(comparison: Comparison) -> Iterable[tuple[str, int, Any]]:
    for strategy, results in comparison.results.items():
        for path, result in enumerate(results):
            yield strategy, path, result


def _order_row(
    strategy: str, path: int, order: SubmitHedgeOrder, fills: list[tuple[FillReport, float]]
) -> dict[str, Any]:
    filled = sum(fill.qty for fill, _ in fills)
    paid = sum(fill.qty * fill.price for fill, _ in fills)
    return {
        "strategy": strategy,
        "path": path,
        "order_id": order.order_id,
        "ts_ns": order.ts_ns,
        "time": _time(order.ts_ns),
        "book": order.book,
        "symbol": order.symbol,
        "side": order.side.value,
        "qty": order.qty,
        "ref_price": order.ref_price,
        "limit_price": order.limit_price,
        "reason": order.reason,
        "trigger": order.trigger,
        "policy": order.policy,
        "delta_before": order.delta_before,
        "target_delta": order.target_delta,
        "filled_qty": filled,
        "avg_fill_price": paid / filled if filled else None,
        "fees": sum(fill.fee or 0.0 for fill, _ in fills),
        "slippage": sum(slippage for _, slippage in fills),
    }


def _time(ts_ns: int) -> str:
    """UTC, to the microsecond (the exact time is `ts_ns`)."""
    seconds, ns = divmod(ts_ns, 1_000_000_000)
    when = dt.datetime.fromtimestamp(seconds, dt.UTC).replace(microsecond=ns // 1000)
    return when.isoformat(timespec="microseconds")
