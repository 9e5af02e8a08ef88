"""The dashboard and alert files against the metrics the hedger exports (no server needed)."""

from __future__ import annotations

import yaml

from hedger.adapters.metrics import Metrics
from tests.ops.files import alert_rules, dashboard, metric_names, panel_queries
from tests.ops.tools import DATASOURCES

# The sample names each metric type puts in a scrape.
_SAMPLE_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
}


def exported_names() -> set[str]:
    """Every sample name the hedger's registry can expose, plus Prometheus's own `up`."""
    families = Metrics().registry.collect()
    names = {f.name + suffix for f in families for suffix in _SAMPLE_SUFFIXES[f.type]}
    return names | {"up"}


def test_dashboard_queries_name_only_metrics_the_hedger_exports() -> None:
    unknown = {
        (title, name)
        for title, expr in panel_queries("mm-1")
        for name in metric_names(expr)
        if name not in exported_names()
    }
    assert not unknown
    assert len(panel_queries("mm-1")) >= 13


def test_alert_rules_name_only_metrics_the_hedger_exports() -> None:
    unknown = {
        (rule["alert"], name)
        for rule in alert_rules()
        for name in metric_names(rule["expr"])
        if name not in exported_names()
    }
    assert not unknown


def test_metric_names_finds_names_but_not_functions_or_labels() -> None:
    expr = 'sum by (book) (rate(hedger_hedge_orders_total{book=~"$book"}[1m])) > on (x) up'
    assert metric_names(expr) == {"hedger_hedge_orders_total", "up"}


def test_dashboard_panels_use_the_provisioned_datasource_uid() -> None:
    provisioned = yaml.safe_load(DATASOURCES.read_text())["datasources"][0]["uid"]
    board = dashboard()
    used = {panel["datasource"]["uid"] for panel in board["panels"]}
    used |= {t["datasource"]["uid"] for panel in board["panels"] for t in panel["targets"]}
    used |= {v["datasource"]["uid"] for v in board["templating"]["list"]}
    assert used == {provisioned}


def test_dashboard_is_provisionable_with_a_stable_uid_and_a_book_selector() -> None:
    board = dashboard()
    assert board["id"] is None  # Grafana assigns ids; a fixed one clashes across instances
    assert board["uid"] == "hedger-overview"
    (book,) = board["templating"]["list"]
    assert book["name"] == "book"
    assert book["query"]["query"] == "label_values(hedger_delta_exposure, book)"
    assert book["multi"]
    assert book["includeAll"]


def test_dashboard_book_labelled_panels_filter_by_the_book_variable() -> None:
    book_labelled = {
        "hedger_delta_exposure",
        "hedger_gamma_exposure",
        "hedger_vega_exposure",
        "hedger_hedge_orders_total",
        "hedger_hedging_cost",
        "hedger_slippage",
        "hedger_order_refusals_total",
        "hedger_book_latched",
    }
    unfiltered = [
        target["expr"]
        for panel in dashboard()["panels"]
        for target in panel["targets"]
        if metric_names(target["expr"]) & book_labelled and '"$book"' not in target["expr"]
    ]
    assert not unfiltered


def test_dashboard_panel_titles_are_unique() -> None:
    titles = [panel["title"] for panel in dashboard()["panels"]]
    assert len(titles) == len(set(titles))
