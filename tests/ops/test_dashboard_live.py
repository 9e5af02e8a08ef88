"""The dashboard and alert rules against a real Prometheus scraping a live hedger.

Prometheus (Debian's `prometheus` package) runs the compose stack's config and alert rules,
scraping a hedger that hedges a replay of the bundled feed on the test broker, with the
paper exchange filling its orders. Every query of every dashboard panel, with the book
variable substituted, must return at least one series, and the live scrape must pass
`promtool check metrics`.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
from pathlib import Path

import pytest

from hedger.config import Settings
from hedger.demo import BUNDLED_FEED
from producers.execution import CostModel
from producers.replay import replay
from tests.integration.harness import (
    Producer,
    hedger_settings,
    http_get,
    running_exchange,
    running_hedger,
    wait_until,
)
from tests.ops.files import panel_queries
from tests.ops.prometheus_server import PrometheusApi, running_prometheus
from tests.ops.tools import tool

pytestmark = pytest.mark.broker

# The bundled 30 minutes of event time in 5 s, so every rate window sees orders arrive.
REPLAY_SPEED = 360.0
# How long the panels get to fill once the replay is sent (scrapes are 1 s apart).
SETTLE_TIMEOUT_S = 30.0
# Panels that cannot have data yet, and why. Remove an entry as soon as its panel does.
PANELS_WITHOUT_DATA_YET: dict[str, str] = {}
# The bundled feed asks for about 4.6 orders a minute of event time: a total rate limit
# below that refuses some, so the refusals panel has data for every book.
TOTAL_ORDERS_PER_MINUTE = 2.0


async def test_live_hedger_fills_every_dashboard_panel_and_passes_promtool_check_metrics(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, total_orders_per_minute=TOTAL_ORDERS_PER_MINUTE
    )
    target = f"127.0.0.1:{settings.metrics_port}"
    async with (
        running_prometheus(target, tmp_path) as prometheus,
        running_hedger(settings),
        running_exchange(settings, CostModel(half_spread=0.01, commission_per_order=1.0)),
    ):
        await wait_until(lambda: _returns_series(prometheus, 'up{job="hedger"} == 1'))
        await _replay_with_a_dead_letter(settings)
        books = await prometheus.get(
            "/api/v1/label/book/values", **{"match[]": "hedger_delta_exposure"}
        )
        empty = {book: await _settled_empty_panels(prometheus, book) for book in (books[0], ".*")}
        scrape = (await http_get(settings, "/metrics"))[1]
        rules = await prometheus.get("/api/v1/rules")

    assert books == ["mm-1", "mm-2"]
    for book, titles in empty.items():
        assert titles == set(PANELS_WITHOUT_DATA_YET), (
            f"book={book!r}: panels without series {sorted(titles)}; expected only "
            f"{PANELS_WITHOUT_DATA_YET} (drop an entry once its panel has data)"
        )
    lint = await asyncio.to_thread(
        subprocess.run,
        [tool("promtool", "prometheus"), "check", "metrics"],
        input=scrape,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert not lint.stdout.strip(), lint.stdout  # promtool prints each problem it finds
    assert not lint.stderr.strip(), lint.stderr
    health = {r["name"]: r["health"] for g in rules["groups"] for r in g["rules"]}
    assert set(health.values()) == {"ok"}, health


async def _replay_with_a_dead_letter(settings: Settings) -> None:
    bootstrap = settings.require_bootstrap()
    async with Producer(bootstrap) as feed:
        await feed.send(settings.prices_topic, b"not json", "XYZ")
    await replay(
        BUNDLED_FEED,
        bootstrap,
        speed=REPLAY_SPEED,
        prices_topic=settings.prices_topic,
        fills_topic=settings.fills_topic,
    )


async def _returns_series(prometheus: PrometheusApi, promql: str) -> bool:
    return bool(await prometheus.query(promql))


async def _empty_panels(prometheus: PrometheusApi, book: str) -> set[str]:
    """Titles of the panels with a query that returns no series."""
    return {
        title
        for title, promql in panel_queries(book)
        if not await _returns_series(prometheus, promql)
    }


async def _settled_empty_panels(prometheus: PrometheusApi, book: str) -> set[str]:
    """The empty panels once only the expected ones are left, or when the time is up."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(SETTLE_TIMEOUT_S):
            # Polling: each scrape may bring a panel's first series; nothing signals it.
            while await _empty_panels(prometheus, book) != set(PANELS_WITHOUT_DATA_YET):  # noqa: ASYNC110
                await asyncio.sleep(0.5)
    return await _empty_panels(prometheus, book)
