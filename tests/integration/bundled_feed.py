"""The bundled demo feed on a test's topics, and what the service decides on it: the
reference the partition-count and restart tests compare against."""

from __future__ import annotations

from typing import Any

from hedger.config import Settings
from hedger.demo import BUNDLED_FEED
from producers.replay import TimeWindow, replay
from tests.integration.harness import hedger_settings, read_all, running_hedger, wait_until


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
