"""The bundled demo feed on a test's topics, and what the service decides on it: the
reference the partition-count and restart tests compare against."""

from __future__ import annotations

import logging
from collections import defaultdict
from typing import Any

import pytest

from hedger.config import Settings
from hedger.demo import BUNDLED_FEED
from producers.replay import TimeWindow, replay
from tests.integration.harness import hedger_settings, read_all, running_hedger, wait_until

log = logging.getLogger(__name__)


async def load_bundled_feed(settings: Settings, window: TimeWindow | None = None) -> None:
    """Replay the bundled feed (the part of it in `window`) onto `settings`' topics."""
    await replay(
        BUNDLED_FEED,
        settings.require_bootstrap(),
        speed=0,
        prices_topic=settings.prices_topic,
        fills_topic=settings.fills_topic,
        window=window,
        report=lambda _: None,
    )


async def hedge_bundled_feed(
    bootstrap: str, prefix: str, partitions: int
) -> tuple[list[Any], list[Any]]:
    """The orders (`order_keys`) and the books, of the bundled feed loaded onto
    `partitions` partitions before the service starts."""
    settings = await hedger_settings(bootstrap, prefix, partitions=partitions)
    await load_bundled_feed(settings)
    async with running_hedger(settings) as service:
        await wait_until(service.caught_up)
        books = sorted(
            (e.book, e.underlying, round(e.delta, 6), e.shares, e.working_shares)
            for e in service.engine.exposures()
        )
    return order_keys(await read_all(bootstrap, settings.orders_topic)), books


def order_keys(orders: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Orders by time, then id, as what identifies and sizes each."""
    return sorted((o["ts"], o["order_id"], o["book"], o["side"], o["qty"]) for o in orders)


def _difference(sent: list[tuple[Any, ...]], reference: list[tuple[Any, ...]]) -> str:
    """The first orders only one of the two runs sent, to tell a loss from a re-decision."""
    extra = sorted(set(sent) - set(reference))[:5]
    missing = sorted(set(reference) - set(sent))[:5]
    return (
        f"{len(sent)} orders vs {len(reference)}; only sent here: {extra};"
        f" only in the uninterrupted run: {missing}"
    )


def signed_sums(records: list[dict[str, Any]]) -> dict[tuple[str, str], float]:
    """Per (book, symbol), the signed quantity of orders or fills (buys positive)."""
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for record in records:
        symbol = record.get("symbol") or record["instrument"]
        sums[(record["book"], symbol)] += record["qty"] * (1 if record["side"] == "buy" else -1)
    return sums


async def check_as_uninterrupted(
    settings: Settings, state: dict[str, Any], prefix: str, partitions: int
) -> list[dict[str, Any]]:
    """After a run of the bundled feed through faults: a read_committed reader sees no order
    id twice and, id for id, the orders of one uninterrupted run; each book's working shares
    (in `state`, the service's `/books`) are exactly the orders on the topic, its shares the
    client share fills. Returns the orders."""
    bootstrap = settings.require_bootstrap()
    orders = await read_all(bootstrap, settings.orders_topic)
    fills = await read_all(bootstrap, settings.fills_topic)
    uninterrupted, _ = await hedge_bundled_feed(bootstrap, f"{prefix}whole.", partitions)
    ids = [order["order_id"] for order in orders]
    assert len(ids) > 50
    assert len(ids) == len(set(ids)), "a read_committed reader saw an order id twice"
    sent = order_keys(orders)
    assert sent == uninterrupted, _difference(sent, uninterrupted)
    ordered = signed_sums(orders)
    filled = signed_sums([fill for fill in fills if " " not in fill["instrument"]])  # shares
    for exposure in state["exposures"]:
        key = (exposure["book"], exposure["underlying"])
        assert exposure["working_shares"] == pytest.approx(ordered.get(key, 0.0)), key
        assert exposure["shares"] == pytest.approx(filled.get(key, 0.0)), key
    # The figures a fault test's run reports (seen with --log-cli-level=INFO).
    log.info(
        "%d orders read committed, none twice, as uninterrupted; %d fills", len(ids), len(fills)
    )
    return orders
