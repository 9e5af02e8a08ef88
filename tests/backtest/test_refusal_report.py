"""Every refusal of a backtest is listed by reason, with its count over all paths and its
first occurrences (when, which book and underlying, why), in the text, JSON and HTML
reports: a refused order is a result to audit, not a footnote."""

from __future__ import annotations

import dataclasses
import html

import orjson

from hedger.backtest.compare import compare
from hedger.backtest.report_html import comparison_html
from hedger.backtest.report_json import comparison_json
from hedger.backtest.report_text import comparison_text
from hedger.backtest.runner import FIRST_REFUSALS, BacktestConfig
from hedger.backtest.strategies import STATIC_HEDGE, configured_strategy
from hedger.core.actions import HedgeDenied
from hedger.core.controls import BookLimits
from hedger.core.engine import HedgeEngine
from hedger.core.events import Event, RecoveryCompleted
from producers.execution import CostModel
from tests.backtest import scenario as sc


def test_refusals_are_listed_with_counts_and_first_occurrences_in_every_format() -> None:
    # 50 calls at delta ~0.5 want ~2,500 shares (~250,000) sold: over a 100,000 limit.
    engine_config = dataclasses.replace(
        sc.engine_config(100.0), limits=BookLimits(max_order_notional=100_000.0)
    )
    price = round(sc.call_value(1, 100.0), 2)
    events: list[Event] = [sc.vol(0), sc.tick(0, 100.0), sc.client_buys_calls(1, 50, price)]
    events += [sc.tick(60 * (n + 1), 100.0 + 0.5 * n) for n in range(6)]
    strategy = configured_strategy(engine_config.policy)
    config = BacktestConfig(engine_config, CostModel())
    comparison = compare([events], [strategy], config)

    # What the engine refused, seen by handling the events directly.
    engine = HedgeEngine(engine_config)
    engine.handle(RecoveryCompleted(events[0].ts_ns))
    denied = [a for e in events for a in engine.handle(e) if isinstance(a, HedgeDenied)]
    assert len(denied) > FIRST_REFUSALS
    assert {d.reason for d in denied} == {"max_order_notional"}
    first = denied[0]

    (summary,) = comparison.summaries()
    assert summary.refusals == {"max_order_notional": len(denied)}
    kept = summary.first_refusals["max_order_notional"]
    assert [(r.ts_ns, r.book, r.symbol, r.detail) for r in kept] == [
        (d.ts_ns, d.book, d.symbol, d.detail) for d in denied[:FIRST_REFUSALS]
    ]

    text = comparison_text([summary])
    assert f"{strategy.name}: max_order_notional {len(denied)}" in text
    assert f"2026-11-20T14:30:01+00:00 mm-1 XYZ: {first.detail}" in text

    document = orjson.loads(orjson.dumps(comparison_json({}, comparison)))
    listed = document["summary"][0]["first_refusals"]["max_order_notional"]
    assert listed[0] == {
        "ts_ns": first.ts_ns,
        "book": "mm-1",
        "symbol": "XYZ",
        "detail": first.detail,
    }
    assert len(listed) == FIRST_REFUSALS

    page = comparison_html("refusals", {}, comparison)
    assert "<h2>Refused or skipped (over all paths)</h2>" in page
    assert f"<td>max_order_notional</td><td>{len(denied)}</td>" in page
    assert html.escape(first.detail) in page


def test_the_static_hedge_is_held_to_the_book_limits_too() -> None:
    """Its one order per client trade passes the same size, notional and position limits
    as the engine's orders (it was sent whatever its size)."""
    engine_config = dataclasses.replace(
        sc.engine_config(100.0), limits=BookLimits(max_order_notional=100_000.0)
    )
    price = round(sc.call_value(1, 100.0), 2)
    events: list[Event] = [sc.vol(0), sc.tick(0, 100.0), sc.client_buys_calls(1, 50, price)]
    config = BacktestConfig(engine_config, CostModel())
    (result,) = compare([events], [STATIC_HEDGE], config).results["static"]
    assert result.orders == []
    assert result.refusals == {"max_order_notional": 1}
    (seen,) = result.first_refusals["max_order_notional"]
    assert seen.detail.endswith("> 100,000.00")
    roomy = BacktestConfig(dataclasses.replace(engine_config, limits=BookLimits()), CostModel())
    (result,) = compare([events], [STATIC_HEDGE], roomy).results["static"]
    assert len(result.orders) == 1
