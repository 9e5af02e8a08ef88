"""The HTML report of `hedger backtest mc`: the cost of hedging per rebalancing interval,
its curve against frequency, and its distribution per interval."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator, ScalarFormatter

from hedger.backtest.montecarlo import IntervalResult
from hedger.backtest.report_html import html_table, page, svg
from hedger.backtest.report_text import MONTE_CARLO_HEADERS, monte_carlo_rows


def monte_carlo_html(
    title: str, inputs: Mapping[str, str], results: Sequence[IntervalResult], value: float
) -> str:
    """The cost-of-hedging report; `value` is the position's Black-Scholes value (the
    cost a continuously rebalanced hedge would come to)."""
    table = html_table(MONTE_CARLO_HEADERS, monte_carlo_rows(results))
    sections = [
        ("Cost of hedging per rebalancing interval", table),
        ("Frequency against cost", svg(_cost_curve(results, value))),
        ("Distribution of the cost of hedging", svg(_cost_histograms(results, value))),
    ]
    return page(title, inputs, sections)


def _at_counts(axes: Axes, counts: np.ndarray) -> None:
    """Ticks on a log axis at the rebalance counts, labelled plainly: the default minor
    labels (4×10⁰, 6×10⁰, ...) ran into each other."""
    axes.xaxis.set_major_locator(FixedLocator(counts.tolist()))
    axes.xaxis.set_major_formatter(ScalarFormatter())
    axes.xaxis.set_minor_locator(NullLocator())


def _cost_curve(results: Sequence[IntervalResult], value: float) -> Figure:
    figure = Figure(figsize=(9.0, 3.6))
    std_axes, mean_axes = figure.subplots(1, 2)
    counts = np.array([r.rebalances for r in results], dtype=float)
    ratios = np.array([r.std_cost_over_price for r in results])
    std_axes.loglog(counts, ratios, "o-", label="simulated")
    if counts.size:
        anchor = ratios[0] * np.sqrt(counts[0])
        std_axes.loglog(counts, anchor / np.sqrt(counts), "--", label="∝ 1/√N")
        _at_counts(std_axes, counts)
        std_axes.yaxis.set_minor_formatter(NullFormatter())
        std_axes.yaxis.set_major_locator(FixedLocator(np.round(ratios, 3).tolist()))
        std_axes.yaxis.set_major_formatter(ScalarFormatter())
    std_axes.set(xlabel="rebalances N", ylabel="std of cost / BS value")
    std_axes.legend(fontsize="small")
    mean_axes.plot(counts, [r.mean_cost for r in results], "o-", label="simulated mean")
    mean_axes.axhline(value, color="C1", ls="--", label=f"Black-Scholes value {value:,.0f}")
    mean_axes.set_xscale("log")
    if counts.size:
        _at_counts(mean_axes, counts)
    mean_axes.ticklabel_format(axis="y", style="plain", useOffset=False)
    mean_axes.set(xlabel="rebalances N", ylabel="mean cost of hedging")
    mean_axes.legend(fontsize="small", loc="lower right")
    figure.tight_layout()
    return figure


def _cost_histograms(results: Sequence[IntervalResult], value: float) -> Figure:
    """One panel per interval on a shared axis: overlaid, the narrow ones hid each other."""
    panels = max(1, len(results))
    figure = Figure(figsize=(9.0, 1.5 + 1.2 * panels))
    axes_list = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    costs = [r.costs for r in results]
    edges = np.histogram_bin_edges(np.concatenate(costs), bins=80) if costs else 10
    for index, (axes, result) in enumerate(zip(axes_list, results, strict=False)):
        axes.hist(result.costs, bins=edges, color=f"C{index}")
        axes.axvline(value, color="black", ls="--", lw=1)
        axes.set_ylabel("paths")
        axes.set_title(
            f"N = {result.rebalances}: mean {result.mean_cost:,.0f}, std {result.std_cost:,.0f}",
            fontsize="small",
            loc="left",
        )
    axes_list[-1].set_xlabel(f"cost of hedging (dashed: Black-Scholes value {value:,.0f})")
    figure.tight_layout()
    return figure
