"""`hedger demo`: the whole loop on a local broker, ending in a readable summary.

Starts the embedded Kafka-compatible broker, creates the topics, runs the hedger and the
paper exchange, replays the bundled recording (prices and client option trades), waits until
every record is consumed and every hedge order filled, then prints what happened. The
broker's address is printed first, for other tools (`hedger risk --bootstrap`, `python -m
producers.replay`) to use while the demo runs, or after the summary with `--keep-running`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TextIO

from hedger.adapters.embedded_broker import EmbeddedBroker
from hedger.adapters.topics import ensure_topics
from hedger.config import Settings
from hedger.console import until_signalled
from hedger.demo_summary import DemoReport, orders_sent, render_summary
from hedger.runtime import HedgerService
from producers.execution import CostModel
from producers.paper_exchange import PaperExchange, PaperExchangeConfig
from producers.replay import replay

log = logging.getLogger(__name__)

BUNDLED_FEED = Path(str(resources.files("producers") / "data" / "demo_feed.jsonl"))
# The paper exchange's cost model in the demo: one cent inside the quote, $1 a ticket.
HALF_SPREAD = 0.01
COMMISSION_PER_ORDER = 1.0
_SETTLE_TIMEOUT_S = 60.0


@dataclass(frozen=True, slots=True)
class DemoOptions:
    feed: Path | None = None
    speed: float = 0.0
    keep_running: bool = False


async def run_demo(settings: Settings, options: DemoOptions, out: TextIO = sys.stdout) -> int:
    feed = options.feed or BUNDLED_FEED
    if not feed.is_file():  # before the broker starts, not after
        raise FileNotFoundError(f"no recording at {feed}")
    status = 0
    with EmbeddedBroker() as bootstrap:
        print(
            f"embedded broker on {bootstrap}; clients: HEDGER_KAFKA_BOOTSTRAP={bootstrap}",
            file=out,
            flush=True,
        )
        settings = dataclasses.replace(settings, kafka_bootstrap=bootstrap)
        await ensure_topics(bootstrap, settings.topics)
        service = HedgerService(settings)
        exchange = PaperExchange(
            PaperExchangeConfig(
                bootstrap,
                settings.orders_topic,
                settings.prices_topic,
                settings.fills_topic,
                costs=CostModel(half_spread=HALF_SPREAD, commission_per_order=COMMISSION_PER_ORDER),
            )
        )
        stop = asyncio.Event()
        tasks = [asyncio.create_task(service.run(stop)), asyncio.create_task(exchange.run(stop))]
        try:
            await _until(lambda: service.ready, tasks)
            started = time.monotonic()
            stats = await replay(
                feed,
                bootstrap,
                speed=options.speed,
                prices_topic=settings.prices_topic,
                fills_topic=settings.fills_topic,
            )
            await _until_settled(service, exchange, tasks)
            report = DemoReport(feed, stats, service, exchange, time.monotonic() - started)
            out.write(render_summary(report))
            out.flush()
            if options.keep_running:
                status = await _serve_until_signalled(settings, out)
        finally:
            stop.set()
            await asyncio.gather(*tasks)
    return status


async def _serve_until_signalled(settings: Settings, out: TextIO) -> int:
    signalled = until_signalled()
    print(
        f"serving http://127.0.0.1:{settings.metrics_port}/metrics and the broker on"
        f" {settings.kafka_bootstrap}; Ctrl-C stops",
        file=out,
        flush=True,
    )
    await signalled.wait()
    return signalled.exit_status


def _check_alive(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if task.done():
            task.result()  # raises the component's own error, if it had one
            raise RuntimeError("a demo component stopped early")


async def _until(condition: Callable[[], bool], tasks: list[asyncio.Task[None]]) -> None:
    async with asyncio.timeout(_SETTLE_TIMEOUT_S):
        while not condition():
            _check_alive(tasks)
            await asyncio.sleep(0.05)


async def _until_settled(
    service: HedgerService, exchange: PaperExchange, tasks: list[asyncio.Task[None]]
) -> None:
    """Everything replayed is consumed, and every hedge order sent has been filled."""

    async def settled() -> bool:
        return (
            await service.caught_up()
            and not service.engine.working_orders()
            and exchange.venue.orders_filled >= orders_sent(service.metrics)
        )

    async with asyncio.timeout(_SETTLE_TIMEOUT_S):
        quiet = 0
        while quiet < 3:  # settled on three polls in a row: nothing still in flight
            _check_alive(tasks)
            quiet = quiet + 1 if await settled() else 0
            await asyncio.sleep(0.1)
