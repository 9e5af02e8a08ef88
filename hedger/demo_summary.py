"""The demo's closing summary, read from the same metrics and state a user would scrape."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from hedger.adapters.metrics import Metrics
from hedger.runtime import HedgerService
from producers.paper_exchange import PaperExchange
from producers.publish import ReplayStats


@dataclass(frozen=True, slots=True)
class DemoReport:
    feed: Path
    replayed: ReplayStats
    service: HedgerService
    exchange: PaperExchange
    wall_time_s: float


def metric_total(registry: CollectorRegistry, sample: str, **labels: str) -> float:
    """Sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for family in registry.collect():
        for s in family.samples:
            if s.name == sample and labels.items() <= s.labels.items():
                total += s.value
    return total


def orders_sent(metrics: Metrics) -> int:
    return int(metric_total(metrics.registry, "hedger_hedge_orders_total"))


def render_summary(report: DemoReport) -> str:
    service, settings = report.service, report.service.settings
    registry = service.metrics.registry
    consumed = "hedger_messages_consumed_total"
    exposures = sorted(service.engine.exposures(), key=lambda e: (e.book, e.underlying))
    span_s = ((report.replayed.last_ts_ns or 0) - (report.replayed.first_ts_ns or 0)) / 1e9
    out = io.StringIO()
    w = out.write
    w("\nhedger demo summary\n===================\n")
    w(
        f"feed          {report.feed.name}: {report.replayed.records_sent} records, "
        f"{span_s / 60:.0f} min of event time, replayed and hedged in {report.wall_time_s:.1f} s\n"
    )
    w(
        f"consumed      {metric_total(registry, consumed, topic=settings.prices_topic):.0f} "
        f"price messages, {metric_total(registry, consumed, topic=settings.fills_topic):.0f} "
        f"fills ({_invalid(registry)} dead-lettered)\n"
    )
    buys = metric_total(registry, "hedger_hedge_orders_total", side="buy")
    sells = metric_total(registry, "hedger_hedge_orders_total", side="sell")
    w(
        f"hedge orders  {buys + sells:.0f} sent ({buys:.0f} buy, {sells:.0f} sell); "
        f"{report.exchange.venue.orders_filled} filled by the paper exchange\n"
    )
    fees = sum(e.fees for e in exposures)
    slippage = sum(e.slippage for e in exposures)
    w(
        f"hedging cost  {fees + slippage:,.2f} = fees {fees:,.2f} + slippage {slippage:,.2f} "
        "(currency; slippage against the arrival mark)\n\n"
    )
    w(
        f"{'book':<6} {'underlying':<10} {'net delta':>10} {'band':>7} {'gamma':>9} "
        f"{'vega':>10} {'theta':>10} {'hedge sh':>9} {'cost':>8}\n"
    )
    band = settings.band_shares
    for e in exposures:
        inside = "ok" if abs(e.delta - settings.target_delta) <= band else "OUT"
        w(
            f"{e.book:<6} {e.underlying:<10} {e.delta:>10.1f} {inside:>3}±{band:<3.0f} "
            f"{e.gamma:>9.1f} {e.vega:>10.1f} {e.theta:>10.1f} {e.shares:>9.0f} "
            f"{e.hedging_cost:>8.2f}\n"
        )
    w(
        "\nunits: delta in shares; gamma in shares per 1.00 move; vega in currency per vol "
        "point; theta in currency per calendar day\n"
    )
    return out.getvalue()


def _invalid(registry: CollectorRegistry) -> int:
    return int(metric_total(registry, "hedger_invalid_messages_total"))
