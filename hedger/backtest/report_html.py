"""Self-contained HTML reports: tables and plots (inline SVG drawn by matplotlib), no CDN,
no script, no external file: the page can be mailed or archived as it is."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from hedger.backtest.compare import Comparison, StrategySummary
from hedger.backtest.report_text import (
    OUTCOME_HEADERS,
    REFUSAL_HEADERS,
    WINDOW_HEADERS,
    attribution_rows,
    outcome_rows,
    refusal_rows,
    window_rows,
)
from hedger.backtest.strategies import NONE, STATIC
from hedger.core.pnl_attribution import ATTRIBUTION_TERMS

_NS_PER_HOUR = 3600 * 10**9
# Runs longer than this are plotted in days from their start, shorter ones in hours.
_DAYS_AFTER_HOURS = 72
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


def comparison_html(
    title: str,
    inputs: Mapping[str, str],
    comparison: Comparison,
    settings: Sequence[tuple[str, str]] = (),
) -> str:
    """The strategy comparison: summary tables and its plots, then the engine's
    `settings` (`settings_table`)."""
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
    if settings:
        table = html_table(("setting", "value"), settings, notes=True)
        sections.append(("Engine settings", table))
    return page(title, inputs, sections)


def _figure(width: float = 9.0, height: float = 4.0) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height))
    return figure, figure.add_subplot()


def _hours(comparison: Comparison, strategy: str, path: int) -> tuple[np.ndarray, np.ndarray]:
    """Times from the path's start, in `_time_unit`'s unit, and the P&L at each."""
    samples = comparison.results[strategy][path].samples
    start = samples[0].ts_ns if samples else 0
    ns_per_unit = _time_unit(comparison)[0]
    elapsed = np.array([(s.ts_ns - start) / ns_per_unit for s in samples])
    return elapsed, np.array([s.pnl for s in samples])


def _time_unit(comparison: Comparison) -> tuple[float, str]:
    """(ns per unit, axis label): days for a run of days (a daily recording), else hours."""
    samples = comparison.results[comparison.strategies[0].name][0].samples
    span = samples[-1].ts_ns - samples[0].ts_ns if samples else 0
    if span > _DAYS_AFTER_HOURS * _NS_PER_HOUR:
        return 24 * _NS_PER_HOUR, "days from start"
    return _NS_PER_HOUR, "hours from start"


def _style(index: int) -> dict[str, Any]:
    """Strategy `index`'s line: its own colour, dash and width, wider first, so that
    strategies whose curves coincide still show each (a thin dash over a wide line)."""
    dashes = ("-", "--", "-.", ":")
    return {"color": f"C{index}", "ls": dashes[index % 4], "lw": max(3.2 - 0.7 * index, 1.0)}


def _pnl_paths(comparison: Comparison) -> Figure:
    figure = Figure(figsize=(9.0, 6.0))
    axes, gaps = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    for index, strategy in enumerate(comparison.strategies):
        runs = comparison.results[strategy.name]
        for path in range(1, min(len(runs), _FAINT_PATHS)):
            axes.plot(
                *_hours(comparison, strategy.name, path), color=f"C{index}", alpha=0.15, lw=0.7
            )
        label = f"{strategy.name} ({runs[0].final_pnl:,.0f})"
        axes.plot(*_hours(comparison, strategy.name, 0), label=label, **_style(index))
    axes.set(ylabel="P&L (currency)")
    axes.set_title("P&L by strategy (final P&L): first path bold, others faint")
    axes.legend(fontsize="small")
    # Hedged curves lie within a few units of each other on a scale set by the unhedged
    # one: their gaps to the static hedge show where the policies part.
    static = next((s.name for s in comparison.strategies if s.kind == STATIC), None)
    for index, strategy in enumerate(comparison.strategies):
        if static is None or strategy.kind in (NONE, STATIC):
            continue
        static_hours, static_pnl = _hours(comparison, static, 0)
        hours, pnl = _hours(comparison, strategy.name, 0)
        gaps.plot(hours, pnl - np.interp(hours, static_hours, static_pnl), **_style(index))
    gaps.axhline(0.0, color="C1", lw=1.0)
    gaps.set(xlabel=_time_unit(comparison)[1], ylabel="P&L − static (first path)")
    figure.tight_layout()
    return figure


def _delta_exposure(comparison: Comparison) -> Figure:
    figure, axes = _figure()
    for index, strategy in enumerate(comparison.strategies):
        samples = comparison.results[strategy.name][0].samples
        hours, _ = _hours(comparison, strategy.name, 0)
        axes.plot(hours, [s.net_delta for s in samples], label=strategy.name, **_style(index))
    axes.set(xlabel=_time_unit(comparison)[1], ylabel="net delta (shares)")
    axes.legend(fontsize="small")
    return figure


def _cost_against_trades(summaries: Sequence[StrategySummary]) -> Figure:
    # A legend, not labels at the points: strategies with close results overprinted.
    figure = Figure(figsize=(9.0, 3.6))
    cost_axes, risk_axes = figure.subplots(1, 2)
    markers = "osD^vP"
    for index, summary in enumerate(summaries):
        look = {"color": f"C{index}", "marker": markers[index % len(markers)], "s": 60}
        look |= {"edgecolors": "black", "linewidths": 0.5, "label": summary.strategy}
        cost_axes.scatter(summary.trades, summary.commissions + summary.slippage, **look)
        risk_axes.scatter(summary.trades, summary.pnl_std, **look)
    cost_axes.set(xlabel="hedge trades per path", ylabel="commissions + slippage")
    risk_axes.set(xlabel="hedge trades per path", ylabel="P&L std")
    cost_axes.legend(fontsize="small")
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
