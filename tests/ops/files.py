"""Reading the ops files: the dashboard's panel queries (variables substituted as Grafana
does) and the alert rules."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from tests.ops.tools import DASHBOARD, PROMETHEUS_DIR

# Grafana's $__rate_interval for the compose stack: 4 x the 15 s scrape interval that the
# provisioned datasource declares (timeInterval).
RATE_INTERVAL = "1m"
METRIC_NAME = re.compile(r"\b(hedger_[a-z_]+|up)\b(?!\s*\()")


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def panel_queries(book: str) -> list[tuple[str, str]]:
    """(panel title, PromQL) for every query of every panel, `$book` set to `book`."""
    return [
        (panel["title"], substitute(target["expr"], book))
        for panel in dashboard()["panels"]
        for target in panel["targets"]
    ]


def substitute(expr: str, book: str) -> str:
    return expr.replace("$__rate_interval", RATE_INTERVAL).replace("$book", book)


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression (hedger_* and up), without label or function names."""
    no_labels = re.sub(r"\{[^}]*\}", "", expr)
    without_grouping = re.sub(
        r"\b(by|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", no_labels
    )
    return set(METRIC_NAME.findall(without_grouping))


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS_DIR / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]
