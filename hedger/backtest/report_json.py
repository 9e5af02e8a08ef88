"""The JSON documents of `hedger backtest`: what was run and what came out."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from hedger.backtest.compare import Comparison
from hedger.backtest.montecarlo import IntervalResult
from hedger.backtest.trades import fill_rows, order_rows


def comparison_json(
    inputs: Mapping[str, str],
    comparison: Comparison,
    settings: Sequence[tuple[str, str]] = (),
) -> dict[str, Any]:
    """Inputs, the engine's `settings` (`settings_table`), each strategy's summary, every
    path's final P&L and counts, every hedge order and fill (`hedger.backtest.trades`),
    and the first path's P&L and net delta series (ts in ns)."""
    return {
        "inputs": dict(inputs),
        "engine": dict(settings),
        "summary": [dataclasses.asdict(summary) for summary in comparison.summaries()],
        "paths": {
            name: [
                {"final_pnl": r.final_pnl, "orders": len(r.orders), "fills": r.fills}
                for r in results
            ]
            for name, results in comparison.results.items()
        },
        # The paths' spans when they are windows of one recording (ts in ns).
        "windows": [{"start": start, "end": end} for start, end in comparison.windows],
        "orders": order_rows(comparison),
        "fills": fill_rows(comparison),
        "first_path_series": {
            name: {
                "ts": [s.ts_ns for s in results[0].samples],
                "pnl": [s.pnl for s in results[0].samples],
                "net_delta": [s.net_delta for s in results[0].samples],
            }
            for name, results in comparison.results.items()
        },
    }


def monte_carlo_json(
    inputs: Mapping[str, Any], price: float, definition: str, results: Sequence[IntervalResult]
) -> dict[str, Any]:
    """Inputs, the option's price, the cost definition, and per interval: `interval`,
    `rebalances`, `mean_cost`, `std_cost`, `std_cost_over_price`."""
    return {
        "inputs": dict(inputs),
        "black_scholes_price": price,
        "cost_definition": definition,
        "intervals": [result.as_json() for result in results],
    }
