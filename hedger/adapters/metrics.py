"""Every Prometheus metric of the hedger, named once, in base units.

Labels are bounded: book, underlying, side, topic, partition, reason. Never order or fill
ids. Books, underlyings and kill-switch scopes come from input records, so each of those
labels keeps at most `max_label_values` distinct values (`HEDGER_MAX_LABEL_VALUES`): a
feed of fills under random book names cannot grow /metrics and memory without bound.
Updates of a series a new value beyond that would need are dropped and counted.

Money is in the book's currency. Exposure and cost gauges are derived from book state,
which is rebuilt from the fill topic on start, so they survive restarts; counters count
this process's work.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as _Counter
from prometheus_client import Gauge as _Gauge

from hedger.core.engine import Exposure
from hedger.core.pnl_attribution import HoldingPnl
from hedger.core.scenarios import ScenarioGrid

log = logging.getLogger(__name__)

_BOOK = ("book", "underlying")
# The labels whose values input records choose.
_FROM_INPUT = frozenset({"book", "underlying", "scope"})


class LabelBudget:
    """The distinct values each input-chosen label has taken, up to `limit` per label."""

    def __init__(self, limit: int, dropped: _Counter) -> None:
        self._limit = limit
        self._dropped = dropped
        self._values: dict[str, set[str]] = {name: set() for name in _FROM_INPUT}
        self._full: set[str] = set()

    def admits(self, names: Iterable[str], values: Iterable[Any]) -> bool:
        """True when every input-chosen value is known, or room is left for it (taken)."""
        new = [
            (name, str(value))
            for name, value in zip(names, values, strict=True)
            if name in _FROM_INPUT and str(value) not in self._values[name]
        ]
        for name, _ in new:
            if len(self._values[name]) >= self._limit:
                if name not in self._full:  # said once per label
                    self._full.add(name)
                    log.warning(
                        "metrics keep %d values of label %r (HEDGER_MAX_LABEL_VALUES);"
                        " series of more are dropped",
                        self._limit,
                        name,
                    )
                self._dropped.labels(name).inc()
                return False
        for name, value in new:
            self._values[name].add(value)
        return True


class _Dropped:
    """The series `labels()` gives beyond the label budget: every update is dropped."""

    def _drop(self, *_: Any, **__: Any) -> None:
        return None

    inc = dec = set = set_to_current_time = observe = _drop


_DROPPED = _Dropped()
# Tick-to-order: two broker round trips and the price fetch's wait (~6 ms p50 on loopback).
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class _KnownLabels:
    """`labels()` of a series that exists is one dict lookup. prometheus_client checks the
    names, converts each value to str and takes a lock on every call (~1 µs): counted per
    batch of ticks, per refusal and per exposure gauge, that was a share of a catch-up's
    time. A first use, or values not all str, go the library's way (it creates the series
    and keys it by the str values, which is what is looked up here)."""

    budget: LabelBudget | None = None

    def labels(self, *labelvalues: Any, **labelkwargs: Any) -> Any:
        if not labelkwargs:
            child = getattr(self, "_metrics", {}).get(labelvalues)
            if child is not None:
                return child
        if self.budget is not None:
            names: tuple[str, ...] = self._labelnames  # type: ignore[attr-defined]
            values = labelvalues or tuple(labelkwargs[name] for name in names)
            if not self.budget.admits(names, values):
                return _DROPPED
        return super().labels(*labelvalues, **labelkwargs)  # type: ignore[misc]


class Counter(_KnownLabels, _Counter):
    pass


class Gauge(_KnownLabels, _Gauge):
    pass


class Metrics:
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        max_label_values: int | None = None,
    ) -> None:
        """`max_label_values`: per input-chosen label (see above); None, unbounded."""
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.label_values_dropped = _Counter(
            "hedger_metric_label_values_dropped_total",
            "Metric updates dropped: their series would take a label past"
            " HEDGER_MAX_LABEL_VALUES distinct values.",
            ["label"],
            registry=r,
        )
        self.messages_consumed = Counter(
            "hedger_messages_consumed_total", "Records read, by topic.", ["topic"], registry=r
        )
        self.invalid_messages = Counter(
            "hedger_invalid_messages_total",
            "Records sent to the dead-letter topic, by source topic and reason.",
            ["topic", "reason"],
            registry=r,
        )
        self.control_refusals = Counter(
            "hedger_control_refusals_total",
            "Control requests refused: control_off, no_credential or bad_credential.",
            ["reason"],
            registry=r,
        )
        self.dead_letters_lost = Counter(
            "hedger_dead_letters_lost_total",
            "Unusable records the dead-letter topic refused for good (logged, then skipped).",
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
            "Per tick-driven hedge order: wall-clock time from its tick record's Kafka"
            " timestamp (CreateTime, set by the feed's producer) to the broker acknowledging"
            " the order, so it includes the tick's trip to the broker and the wait for the"
            " fetch; skewed by any clock difference between the feed's host and this one.",
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
        self.pnl = Gauge(
            "hedger_pnl",
            "Mark-to-model P&L so far, currency: cash, options at the engine's model, shares"
            " at the mark, hedge fees and financing (what the backtest reports for the same"
            " inputs).",
            _BOOK,
            registry=r,
        )
        self.pnl_attribution = Gauge(
            "hedger_pnl_attribution",
            "hedger_pnl by term (delta, gamma, theta, vega, financing, costs, residual),"
            " currency; the terms add up to hedger_pnl.",
            [*_BOOK, "term"],
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
        self.batches_held = Counter(
            "hedger_batches_held_total",
            "Exactly once, catching up: batches whose records were held back for the next"
            " transaction rather than wait for the commit of the last.",
            registry=r,
        )
        self.delivery_restarts = Counter(
            "hedger_delivery_restarts_total",
            "Exactly once: transactions lost and decided again on a new producer, by cause"
            " (fenced: the coordinator aborted one; send_timeout: HEDGER_SEND_TIMEOUT_S passed).",
            ["cause"],
            registry=r,
        )
        self.snapshot_bytes = Gauge(
            "hedger_snapshot_bytes", "Size of the last book-state snapshot written.", registry=r
        )
        self.snapshot_write_seconds = Gauge(
            "hedger_snapshot_write_seconds",
            "How long the last snapshot held the event loop (serialising) and the batch"
            " (writing it).",
            registry=r,
        )
        self.snapshot_failures = Counter(
            "hedger_snapshot_failures_total",
            "Snapshots not written (the broker did not take them); hedging went on.",
            registry=r,
        )
        self.rebuild_source = Gauge(
            "hedger_rebuild_from_snapshot",
            "1 when the last rebuild started from a snapshot, 0 when from the topics' start.",
            registry=r,
        )
        self.delivery_mode = Gauge(
            "hedger_delivery_mode",
            "1 for the delivery guarantee in force: exactly_once (transactions) or"
            " at_least_once (deterministic order ids).",
            ["mode"],
            registry=r,
        )
        self.untimely_ticks = Counter(
            "hedger_untimely_ticks_total",
            "Ticks handled too old on the wall clock (late_tick, HEDGER_MAX_TICK_AGE_MS) or"
            " stamped ahead of this host's clock (clock_skew, HEDGER_MAX_CLOCK_SKEW_MS):"
            " nothing is hedged on them.",
            ["problem"],
            registry=r,
        )
        self._price_blocks: set[tuple[str, str]] = set()
        self.price_blocked = Gauge(
            "hedger_price_blocked",
            "1 while nothing is hedged on an underlying because its price is not trusted:"
            " price_frozen, late_tick, clock_skew or stuck_price.",
            ["underlying", "reason"],
            registry=r,
        )
        self.order_refusals = Counter(
            "hedger_order_refusals_total",
            "Hedge orders the engine refused to send, by reason.",
            [*_BOOK, "reason"],
            registry=r,
        )
        self.kill_switch_engaged = Gauge(
            "hedger_kill_switch_engaged",
            "1 while the kill switch is engaged; scope is a book or '*' for all books.",
            ["scope"],
            registry=r,
        )
        # The all-books series exists from start so dashboards and alerts always see it.
        self.kill_switch_engaged.labels("*").set(0)
        self.book_latched = Gauge(
            "hedger_book_latched",
            "1 while the book is latched (hedging stopped until reset), else 0.",
            ["book"],
            registry=r,
        )
        # Wall-clock receipt, not event time: a replayed recording's ticks are old yet fresh.
        self.last_tick_received = Gauge(
            "hedger_last_tick_received_timestamp_seconds",
            "Unix time the last accepted tick of the underlying arrived.",
            ["underlying"],
            registry=r,
        )
        # Per book: books may have their own policies, and a band may move with the mark or
        # the book's gamma. DeltaOutsideBand compares each book's delta with its own zone.
        self.hedge_band = Gauge(
            "hedger_hedge_band_shares",
            "How far net delta may stray beyond the target range before the hedger trades, "
            "shares (the policy's band at the last mark).",
            _BOOK,
            registry=r,
        )
        self.target_delta = Gauge(
            "hedger_target_delta_shares",
            "Net delta the hedger trades back to (the low end of a target range), shares.",
            _BOOK,
            registry=r,
        )
        self.target_delta_high = Gauge(
            "hedger_target_delta_high_shares",
            "High end of the target range (the target itself when it is one number), shares.",
            _BOOK,
            registry=r,
        )
        self.risk = RiskGauges(r)
        if max_label_values is not None:
            budget = LabelBudget(max_label_values, self.label_values_dropped)
            for metric in [*vars(self).values(), *vars(self.risk).values()]:
                if isinstance(metric, _KnownLabels):
                    metric.budget = budget

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
            self.hedge_band.labels(*labels).set(exposure.band)
            self.target_delta.labels(*labels).set(exposure.target_low)
            self.target_delta_high.labels(*labels).set(exposure.target_high)
            self.risk.record(exposure)

    def record_pnl(self, held: Mapping[tuple[str, str], HoldingPnl]) -> None:
        for labels, pnl in held.items():
            self.pnl.labels(*labels).set(pnl.pnl)
            for term, amount in pnl.attribution.items():
                self.pnl_attribution.labels(*labels, term).set(amount)

    def record_controls(
        self, kill_scopes: Iterable[str], latched_books: Iterable[str], books: Iterable[str]
    ) -> None:
        """Kill switch and latch gauges: 1 while set, back to 0 once released or re-armed.

        Every book gets a latch series (0 when not latched), so a dashboard tells "not
        latched" from "not reporting"."""
        _flags(self.kill_switch_engaged, "scope", set(kill_scopes))
        _flags(self.book_latched, "book", set(latched_books), set(books))

    def record_price_blocks(self, blocks: dict[str, str]) -> None:
        """1 per untrusted underlying, labelled with why; its series goes once trusted."""
        now = set(blocks.items())
        for underlying, reason in self._price_blocks - now:
            with contextlib.suppress(KeyError):  # never made: beyond the label budget
                self.price_blocked.remove(underlying, reason)
        for underlying, reason in now:
            self.price_blocked.labels(underlying, reason).set(1)
        self._price_blocks = now


def _flags(
    gauge: Gauge, label: str, on: set[str], also: frozenset[str] | set[str] = frozenset()
) -> None:
    known = {sample.labels[label] for family in gauge.collect() for sample in family.samples}
    for value in known | on | also:
        gauge.labels(value).set(1 if value in on else 0)


class RiskGauges:
    """Greeks beyond the four exposures, and each book's most extreme scenario cells."""

    def __init__(self, registry: CollectorRegistry) -> None:
        def gauge(name: str, meaning: str) -> Gauge:
            return Gauge(name, meaning, _BOOK, registry=registry)

        self.delta_notional = gauge(
            "hedger_delta_notional", "Net delta × the underlying's mark, currency."
        )
        self.gamma_percent = gauge(
            "hedger_gamma_percent_exposure", "Change of delta for a 1% move, shares."
        )
        self.rho = gauge("hedger_rho_exposure", "Rho in currency per percentage point of rate.")
        self.vanna = gauge("hedger_vanna_exposure", "Vanna in shares per vol point.")
        self.volga = gauge(
            "hedger_volga_exposure", "Volga in currency per vol point per vol point."
        )
        self.charm = gauge("hedger_charm_exposure", "Charm in shares per calendar day.")
        self.option_value = gauge("hedger_option_value", "Model value of the options, currency.")
        self.worst_pnl = gauge(
            "hedger_scenario_worst_pnl", "P&L of the worst cell of the scenario grid, currency."
        )
        self.worst_spot_shock = gauge(
            "hedger_scenario_worst_spot_shock_ratio", "Spot move of the worst cell (0.1 = +10%)."
        )
        self.worst_vol_shock = gauge(
            "hedger_scenario_worst_vol_shock", "Vol move of the worst cell (0.05 = +5 vol points)."
        )
        self.best_pnl = gauge(
            "hedger_scenario_best_pnl", "P&L of the best cell of the scenario grid, currency."
        )

    def record(self, exposure: Exposure) -> None:
        labels = (exposure.book, exposure.underlying)
        self.delta_notional.labels(*labels).set(exposure.delta_notional)
        self.gamma_percent.labels(*labels).set(exposure.gamma_per_percent)
        self.rho.labels(*labels).set(exposure.rho)
        self.vanna.labels(*labels).set(exposure.vanna)
        self.volga.labels(*labels).set(exposure.volga)
        self.charm.labels(*labels).set(exposure.charm)
        self.option_value.labels(*labels).set(exposure.option_value)

    def record_scenarios(self, grids: dict[str, ScenarioGrid]) -> None:
        for underlying, grid in grids.items():
            for index, book in enumerate(grid.books):
                labels = (book, underlying)
                worst, best = grid.worst(index), grid.best(index)
                self.worst_pnl.labels(*labels).set(worst.pnl)
                self.worst_spot_shock.labels(*labels).set(worst.spot_shock)
                self.worst_vol_shock.labels(*labels).set(worst.vol_shock_points / 100.0)
                self.best_pnl.labels(*labels).set(best.pnl)
