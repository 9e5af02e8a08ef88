"""Every Prometheus metric of the hedger, named once, in base units.

Labels are bounded: book, underlying, side, topic, partition, reason. Never order or fill
ids. Money is in the book's currency. Exposure and cost gauges are derived from book state,
which is rebuilt from the fill topic on start, so they survive restarts; counters count
this process's work.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hedger.core.engine import Exposure

_BOOK = ("book", "underlying")
# Tick-to-order is dominated by the broker round trip (~1.5 ms p50 on loopback).
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.messages_consumed = Counter(
            "hedger_messages_consumed_total", "Records read, by topic.", ["topic"], registry=r
        )
        self.invalid_messages = Counter(
            "hedger_invalid_messages_total",
            "Records sent to the dead-letter topic, by source topic and reason.",
            ["topic", "reason"],
            registry=r,
        )
        self.hedge_orders = Counter(
            "hedger_hedge_orders_total", "Hedge orders sent.", [*_BOOK, "side"], registry=r
        )
        self.hedge_order_shares = Counter(
            "hedger_hedge_order_shares_total",
            "Shares in hedge orders sent.",
            [*_BOOK, "side"],
            registry=r,
        )
        self.tick_to_order_latency = Histogram(
            "hedger_tick_to_order_latency_seconds",
            "From receiving a tick to the broker acknowledging the order it caused.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.delta = Gauge(
            "hedger_delta_exposure",
            "Net delta in shares (options and shares held).",
            _BOOK,
            registry=r,
        )
        self.gamma = Gauge(
            "hedger_gamma_exposure",
            "Gamma in shares per 1.00 move of the underlying.",
            _BOOK,
            registry=r,
        )
        self.vega = Gauge(
            "hedger_vega_exposure", "Vega in currency per vol point.", _BOOK, registry=r
        )
        self.theta = Gauge(
            "hedger_theta_exposure", "Theta in currency per calendar day.", _BOOK, registry=r
        )
        self.working_shares = Gauge(
            "hedger_working_hedge_shares",
            "Signed shares in unfilled hedge orders.",
            _BOOK,
            registry=r,
        )
        self.hedging_cost = Gauge(
            "hedger_hedging_cost",
            "Cost of hedging so far in currency: fees plus slippage of hedge fills.",
            _BOOK,
            registry=r,
        )
        self.hedge_fees = Gauge(
            "hedger_hedge_fees", "Fees of hedge fills so far, currency.", _BOOK, registry=r
        )
        self.slippage = Gauge(
            "hedger_slippage",
            "Slippage of hedge fills against the arrival mark, currency (positive = cost).",
            _BOOK,
            registry=r,
        )
        self.hedge_fills = Gauge(
            "hedger_hedge_fills",
            "Fills of hedge orders in the book's history.",
            _BOOK,
            registry=r,
        )
        self.consumer_lag = Gauge(
            "hedger_consumer_lag_messages",
            "Records behind the partition's end.",
            ["topic", "partition"],
            registry=r,
        )
        self.ready = Gauge(
            "hedger_ready", "1 when state is rebuilt and hedging is live.", registry=r
        )

    def record_exposures(self, exposures: Iterable[Exposure]) -> None:
        for exposure in exposures:
            labels = (exposure.book, exposure.underlying)
            self.delta.labels(*labels).set(exposure.delta)
            self.gamma.labels(*labels).set(exposure.gamma)
            self.vega.labels(*labels).set(exposure.vega)
            self.theta.labels(*labels).set(exposure.theta)
            self.working_shares.labels(*labels).set(exposure.working_shares)
            self.hedging_cost.labels(*labels).set(exposure.hedging_cost)
            self.hedge_fees.labels(*labels).set(exposure.fees)
            self.slippage.labels(*labels).set(exposure.slippage)
            self.hedge_fills.labels(*labels).set(exposure.hedge_fills)
