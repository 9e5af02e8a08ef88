"""Self-contained HTML reports: tables and plots (inline SVG drawn by matplotlib), no CDN,
no script, no external file: the page can be mailed or archived as it is."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hedger.backtest.compare import Comparison, StrategySummary
from hedger.backtest.ledger import ATTRIBUTION_TERMS
from hedger.backtest.montecarlo import IntervalResult
from hedger.backtest.report_text import (
    MONTE_CARLO_HEADERS,
    OUTCOME_HEADERS,
    REFUSAL_HEADERS,
    WINDOW_HEADERS,
    attribution_rows,
    monte_carlo_rows,
    outcome_rows,
    refusal_rows,
    window_rows,
)

_NS_PER_HOUR = 3600 * 10**9
_FAINT_PATHS = 20
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f3f3f3; }
table.notes th, table.notes td { text-align: left; }
table.notes td:last-child { white-space: pre-line; }
dl { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dt { font-weight: 600; }
figure { margin: 1.5em 0; }
"""


def svg(figure: Figure) -> str:
    """The figure as an inline <svg> element (text drawn as paths: no font needed)."""
    buffer = io.StringIO()
    # No date in the metadata: the same report is the same bytes.
    figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def html_table(headers: Sequence[str], rows: Sequence[Sequence[str]], notes: bool = False) -> str:
    """A table of numbers after a first column of names; with `notes`, a table of text,
    whose last column's line breaks show."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    opening = '<table class="notes">' if notes else "<table>"
    return f"{opening}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def page(title: str, inputs: Mapping[str, str], sections: Sequence[tuple[str, str]]) -> str:
    """A whole HTML document: the inputs as a list, then (heading, HTML) sections."""
    described = "".join(
        f"<dt>{html.escape(k)}</dt><dd>{html.escape(v)}</dd>" for k, v in inputs.items()
    )
    body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in sections)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1><dl>{described}</dl>{body}</body></html>\n"
    )


def comparison_html(title: str, inputs: Mapping[str, str], comparison: Comparison) -> str:
    """The strategy comparison: summary tables and its plots."""
    summaries = comparison.summaries()
    sections = [
        ("Summary", html_table(OUTCOME_HEADERS, outcome_rows(summaries))),
        (
            "P&L attribution (mean per path)",
            html_table(("strategy", *ATTRIBUTION_TERMS, "total"), attribution_rows(summaries)),
        ),
        ("Hedged and unhedged P&L", svg(_pnl_paths(comparison))),
        ("Delta exposure over time (first path)", svg(_delta_exposure(comparison))),
        ("Cost against rebalancing", svg(_cost_against_trades(summaries))),
        ("P&L attribution", svg(_attribution_bars(summaries))),
    ]
    if summaries[0].paths >= 2:
        sections.append(("Final P&L distribution", svg(_final_pnl_histogram(comparison))))
    if comparison.windows:
        table = html_table(WINDOW_HEADERS, window_rows(comparison))
        sections.append(("Per window (each run on its own, from no position)", table))
    refusals = [
        [strategy, reason, count, "\n".join(first)]
        for strategy, reason, count, first in refusal_rows(summaries)
    ]
    if refusals:
        table = html_table(REFUSAL_HEADERS, refusals, notes=True)
        sections.append(("Refused or skipped (over all paths)", table))
    return page(title, inputs, sections)


def _figure(width: float = 9.0, height: float = 4.0) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height))
    return figure, figure.add_subplot()


def _hours(comparison: Comparison, strategy: str, path: int) -> tuple[np.ndarray, np.ndarray]:
    samples = comparison.results[strategy][path].samples
    start = samples[0].ts_ns if samples else 0
    hours = np.array([(s.ts_ns - start) / _NS_PER_HOUR for s in samples])
    return hours, np.array([s.pnl for s in samples])


def _pnl_paths(comparison: Comparison) -> Figure:
    figure, axes = _figure()
    for index, strategy in enumerate(comparison.strategies):
        color = f"C{index}"
        runs = comparison.results[strategy.name]
        for path in range(1, min(len(runs), _FAINT_PATHS)):
            axes.plot(*_hours(comparison, strategy.name, path), color=color, alpha=0.15, lw=0.7)
        axes.plot(*_hours(comparison, strategy.name, 0), color=color, lw=1.6, label=strategy.name)
    axes.set(xlabel="hours from start", ylabel="P&L (currency)")
    axes.set_title("P&L by strategy: first path bold, others faint")
    axes.legend(fontsize="small")
    return figure


def _delta_exposure(comparison: Comparison) -> Figure:
    figure, axes = _figure()
    for strategy in comparison.strategies:
        samples = comparison.results[strategy.name][0].samples
        hours, _ = _hours(comparison, strategy.name, 0)
        axes.plot(hours, [s.net_delta for s in samples], label=strategy.name, lw=1.2)
    axes.set(xlabel="hours from start", ylabel="net delta (shares)")
    axes.legend(fontsize="small")
    return figure


def _cost_against_trades(summaries: Sequence[StrategySummary]) -> Figure:
    figure = Figure(figsize=(9.0, 3.6))
    cost_axes, risk_axes = figure.subplots(1, 2)
    for summary in summaries:
        cost = summary.commissions + summary.slippage
        cost_axes.scatter(summary.trades, cost)
        risk_axes.scatter(summary.trades, summary.pnl_std)
        for axes, value in ((cost_axes, cost), (risk_axes, summary.pnl_std)):
            axes.annotate(summary.strategy, (summary.trades, value), fontsize="small")
    cost_axes.set(xlabel="hedge trades per path", ylabel="commissions + slippage")
    risk_axes.set(xlabel="hedge trades per path", ylabel="P&L std")
    figure.tight_layout()
    return figure


def _attribution_bars(summaries: Sequence[StrategySummary]) -> Figure:
    figure, axes = _figure()
    positions = np.arange(len(ATTRIBUTION_TERMS))
    width = 0.8 / max(1, len(summaries))
    for index, summary in enumerate(summaries):
        values = [summary.attribution[term] for term in ATTRIBUTION_TERMS]
        axes.bar(positions + index * width, values, width, label=summary.strategy)
    axes.set_xticks(positions + 0.4 - width / 2, ATTRIBUTION_TERMS)
    axes.axhline(0.0, color="black", lw=0.6)
    axes.set(ylabel="mean P&L per path (currency)")
    axes.legend(fontsize="small")
    return figure


def _final_pnl_histogram(comparison: Comparison) -> Figure:
    figure, axes = _figure()
    for strategy in comparison.strategies:
        finals = [result.final_pnl for result in comparison.results[strategy.name]]
        axes.hist(finals, bins=30, alpha=0.5, label=strategy.name)
    axes.set(xlabel="final P&L (currency)", ylabel="paths")
    axes.legend(fontsize="small")
    return figure


def monte_carlo_html(
    title: str, inputs: Mapping[str, str], results: Sequence[IntervalResult], price: float
) -> str:
    """The cost-of-hedging report: the table per interval, the curve and the distributions."""
    table = html_table(MONTE_CARLO_HEADERS, monte_carlo_rows(results))
    sections = [
        ("Cost of hedging per rebalancing interval", table),
        ("Frequency against cost", svg(_cost_curve(results))),
        ("Distribution of the cost of hedging", svg(_cost_histograms(results, price))),
    ]
    return page(title, inputs, sections)


def _cost_curve(results: Sequence[IntervalResult]) -> Figure:
    figure = Figure(figsize=(9.0, 3.6))
    std_axes, mean_axes = figure.subplots(1, 2)
    counts = np.array([r.rebalances for r in results], dtype=float)
    ratios = np.array([r.std_cost_over_price for r in results])
    std_axes.loglog(counts, ratios, "o-", label="simulated")
    if counts.size:
        anchor = ratios[0] * np.sqrt(counts[0])
        std_axes.loglog(counts, anchor / np.sqrt(counts), "--", label="∝ 1/√N")
    std_axes.set(xlabel="rebalances N", ylabel="std of cost / BS price")
    std_axes.legend(fontsize="small")
    mean_axes.plot(counts, [r.mean_cost for r in results], "o-")
    mean_axes.set_xscale("log")
    mean_axes.set(xlabel="rebalances N", ylabel="mean cost of hedging")
    figure.tight_layout()
    return figure


def _cost_histograms(results: Sequence[IntervalResult], price: float) -> Figure:
    figure, axes = _figure()
    for result in results:
        axes.hist(result.costs, bins=60, alpha=0.4, label=f"N = {result.rebalances}")
    axes.set(xlabel=f"cost of hedging (one option's BS price: {price:.4f})", ylabel="paths")
    axes.legend(fontsize="small")
    return figure
