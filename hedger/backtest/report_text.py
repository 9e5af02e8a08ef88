"""Terminal tables of a strategy comparison and of a Monte Carlo cost-of-hedging run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from hedger.backtest.compare import Comparison, StrategySummary
from hedger.backtest.montecarlo import IntervalResult
from hedger.backtest.runner import Refused
from hedger.core.pnl_attribution import ATTRIBUTION_TERMS

OUTCOME_HEADERS = (
    "strategy",
    "final P&L",
    "P&L std",
    "hedge eff.",
    "95% CVaR",
    "max drawdown",
    "trades",
    "commissions",
    "slippage",
)
_BAR_WIDTH = 30


def money(value: float) -> str:
    return f"{value:,.2f}"


def percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], aligns: str = "") -> str:
    """A plain text table; `aligns` has an `l` or `r` per column (default: the first
    column left-aligned, the others right-aligned)."""
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    aligns = aligns or "l" + "r" * (len(headers) - 1)

    def line(cells: Sequence[str]) -> str:
        padded = (
            cell.ljust(width) if align == "l" else cell.rjust(width)
            for cell, width, align in zip(cells, widths, aligns, strict=True)
        )
        return "  ".join(padded).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def outcome_rows(summaries: Sequence[StrategySummary]) -> list[list[str]]:
    return [
        [
            s.strategy,
            money(s.final_pnl),
            money(s.pnl_std),
            percent(s.effectiveness),
            money(s.cvar_95),
            money(s.max_drawdown),
            f"{s.trades:,.1f}",
            money(s.commissions),
            money(s.slippage),
        ]
        for s in summaries
    ]


def attribution_rows(summaries: Sequence[StrategySummary]) -> list[list[str]]:
    return [
        [
            s.strategy,
            *(money(s.attribution[term]) for term in ATTRIBUTION_TERMS),
            money(s.final_pnl),
        ]
        for s in summaries
    ]


def comparison_text(summaries: Sequence[StrategySummary]) -> str:
    """The outcome and attribution tables, with the basis of the statistics."""
    first = summaries[0]
    basis = (
        f"{first.paths} paths; std, effectiveness and CVaR over final P&L per path"
        if first.basis == "paths"
        else "1 path; std, effectiveness and CVaR over P&L changes between valuations"
    )
    parts = [
        table(OUTCOME_HEADERS, outcome_rows(summaries)),
        f"({basis}; money is mean per path, in currency)",
        "",
        "P&L attribution (mean per path)",
        table(("strategy", *ATTRIBUTION_TERMS, "total"), attribution_rows(summaries)),
    ]
    rows = refusal_rows(summaries)
    if rows:
        parts += ["", "Refused or skipped (over all paths), with the first occurrences"]
    for strategy, reason, count, occurrences in rows:
        parts.append(f"{strategy}: {reason} {count}")
        parts += [f"    {line}" for line in occurrences]
    return "\n".join(parts)


WINDOW_HEADERS = ("window", "from", "to", "strategy", "final P&L", "trades", "fees", "slippage")


def window_rows(comparison: Comparison) -> list[list[str]]:
    """Per window of the recording and strategy, what that window's run came to."""
    return [
        [
            str(index + 1),
            _day_or_time(start),
            _day_or_time(end),
            strategy,
            money(results[index].final_pnl),
            str(len(results[index].orders)),
            money(results[index].fees),
            money(results[index].slippage),
        ]
        for index, (start, end) in enumerate(comparison.windows)
        for strategy, results in comparison.results.items()
    ]


def windows_text(comparison: Comparison) -> str:
    return "\nPer window (each run on its own, from no position)\n" + table(
        WINDOW_HEADERS, window_rows(comparison), "rlllrrrr"
    )


def _day_or_time(ts_ns: int) -> str:
    when = dt.datetime.fromtimestamp(ts_ns // 1_000_000_000, dt.UTC)
    return when.isoformat(timespec="seconds").removesuffix("+00:00") + "Z"


REFUSAL_HEADERS = ("strategy", "refused or skipped", "count", "first occurrences")


def refusal_rows(summaries: Sequence[StrategySummary]) -> list[tuple[str, str, str, list[str]]]:
    """Per strategy and reason: the count over all paths and its first occurrences."""
    return [
        (s.strategy, reason, f"{count:,}", [occurrence(seen) for seen in s.first_refusals[reason]])
        for s in summaries
        for reason, count in s.refusals.items()
    ]


def occurrence(seen: Refused) -> str:
    when = dt.datetime.fromtimestamp(seen.ts_ns / 1e9, dt.UTC).isoformat(timespec="seconds")
    where = " ".join(part for part in (seen.book, seen.symbol) if part)
    return f"{when} {where}: {seen.detail}"


MONTE_CARLO_HEADERS = ("interval (y)", "rebalances", "mean cost", "std cost", "std/price")


def monte_carlo_rows(results: Sequence[IntervalResult]) -> list[list[str]]:
    return [
        [
            f"{r.interval:g}",
            str(r.rebalances),
            money(r.mean_cost),
            money(r.std_cost),
            f"{r.std_cost_over_price:.4f}",
        ]
        for r in results
    ]


def monte_carlo_text(results: Sequence[IntervalResult], price: float) -> str:
    """The cost table per rebalancing interval, with a bar of std/price as the curve."""
    peak = max((r.std_cost_over_price for r in results), default=0.0) or 1.0
    bars = ["█" * max(1, round(_BAR_WIDTH * r.std_cost_over_price / peak)) for r in results]
    rows = [[*row, bar] for row, bar in zip(monte_carlo_rows(results), bars, strict=True)]
    headers = (*MONTE_CARLO_HEADERS, "curve of std/price")
    return f"Black-Scholes price of one option: {price:.4f}\n" + table(headers, rows, "rrrrrl")
