"""`hedger risk`: each book's Greeks and scenario grid, from recorded files or the topics.

Reads fills and prices (ticks, vols, option quotes) as wire messages — JSONL files, in
any order, or the fill and price topics from their start to their current end — and
feeds them, in event-time order, to an engine that never goes live (so it sends nothing).
Then prints, per book and underlying, the Greeks in the units of docs/reference/units.md
and the P&L of every cell of the scenario grid (spot shocks down, vol shocks across).
Unusable lines are counted and skipped, as the service would dead-letter them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import logging
from collections.abc import Iterable
from pathlib import Path

from aiokafka.structs import TopicPartition

from hedger.adapters.kafka import all_partitions, make_consumer, quiet
from hedger.adapters.topics import highwaters
from hedger.codec import DecodeError, decode_fill, decode_price
from hedger.config import Settings
from hedger.core.actions import InputRejected
from hedger.core.engine import Exposure, HedgeEngine
from hedger.core.events import Event, FillReport
from hedger.core.scenarios import ScenarioGrid, Shocks
from hedger.recovery import Record, read_to


def add_risk_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    risk = commands.add_parser(
        "risk", help="print each book's Greeks and scenario grid from files or topics"
    )
    risk.add_argument(
        "inputs", nargs="*", type=Path, help="JSONL files of fills, ticks, vols and quotes"
    )
    risk.add_argument(
        "--bootstrap", help="read the fill and price topics (HEDGER_TOPIC_*) of this cluster"
    )
    risk.add_argument(
        "--spot-shocks",
        type=_numbers,
        default=[100 * shock for shock in Shocks().spot],
        help="comma list of spot moves in percent (default -20,-15,...,20)",
    )
    risk.add_argument(
        "--vol-shocks",
        type=_numbers,
        default=list(Shocks().vol_points),
        help="comma list of vol moves in vol points (default -10,-5,0,5,10)",
    )


def run_risk(args: argparse.Namespace, settings: Settings) -> int:
    if bool(args.inputs) == bool(args.bootstrap):
        print("hedger risk: give JSONL files or --bootstrap, not both or neither")
        return 2
    shocks = Shocks(tuple(s / 100.0 for s in args.spot_shocks), tuple(args.vol_shocks))
    if args.bootstrap:
        messages = asyncio.run(read_topics(args.bootstrap, settings))
    else:
        messages = [line for path in args.inputs for line in path.read_bytes().splitlines()]
    config = dataclasses.replace(settings.engine_config(), scenario_shocks=shocks)
    engine = HedgeEngine(config)
    unusable = replay(engine, messages)
    print(render(engine, len(messages), unusable), end="")
    return 0


def replay(engine: HedgeEngine, messages: Iterable[bytes]) -> int:
    """Feed the decodable messages to `engine` in event-time order; returns how many were
    unusable (not decodable, or refused by the engine)."""
    events: list[Event] = []
    unusable = 0
    for message in messages:
        event = _decoded(message)
        if event is None:
            unusable += message.strip() != b""
        else:
            events.append(event)
    # Prices before fills at the same instant: a fill is booked against its moment's market.
    events.sort(key=lambda event: (event.ts_ns, isinstance(event, FillReport)))
    for event in events:
        actions = engine.handle(event)
        unusable += any(isinstance(action, InputRejected) for action in actions)
    return unusable


def _decoded(message: bytes) -> Event | None:
    try:
        return decode_price(message)
    except DecodeError as error:
        if error.kind != "unknown_type":
            return None
    try:
        return decode_fill(message)
    except DecodeError:
        return None


async def read_topics(bootstrap: str, settings: Settings) -> list[bytes]:
    """Every record of the price and fill topics, up to their ends as of now."""
    consumer = make_consumer(bootstrap, "hedger-risk", None)
    try:
        # aiokafka logs a broker that does not answer; the command line says it once.
        with quiet(logging.getLogger("aiokafka")):
            await consumer.start()
        targets: dict[TopicPartition, int] = {}
        for topic in (settings.prices_topic, settings.fills_topic):
            ends = await highwaters(bootstrap, topic)
            for partition in await all_partitions(consumer, topic):
                targets[partition] = ends.get(partition.partition, 0)
        consumer.assign(list(targets))
        values: list[bytes] = []

        async def keep(record: Record) -> None:
            values.append(record.value or b"")

        await read_to(consumer, targets, keep)
        return values
    finally:
        await consumer.stop()


def render(engine: HedgeEngine, read: int, unusable: int) -> str:
    """The report: per book and underlying, Greeks then the scenario grid."""
    out = io.StringIO()
    out.write(f"hedger risk: {read} messages read, {unusable} unusable\n")
    grids = engine.scenario_grids()
    for exposure in sorted(engine.exposures(), key=lambda e: (e.book, e.underlying)):
        out.write(_greeks(exposure))
        grid = grids.get(exposure.underlying)
        if grid is not None and exposure.book in grid.books:
            out.write(_grid(grid, grid.books.index(exposure.book)))
    out.write(
        "\nunits: delta in shares (and currency); gamma in shares per 1.00 move (and per 1%); "
        "vega in currency per vol point; theta in currency per calendar day; rho in currency "
        "per percentage point of rate; vanna in shares per vol point; volga in currency per "
        "vol point per vol point; charm in shares per calendar day; P&L in currency\n"
    )
    return out.getvalue()


def _greeks(e: Exposure) -> str:
    return (
        f"\n{e.book}  {e.underlying} at {e.mark:,.2f}: options worth {e.option_value:,.2f}, "
        f"{e.shares:,.0f} shares\n"
        f"  delta {e.delta:,.1f} ({e.delta_notional:,.0f})  gamma {e.gamma:,.2f} "
        f"({e.gamma_per_percent:,.1f} per 1%)  vega {e.vega:,.2f}  theta {e.theta:,.2f}\n"
        f"  rho {e.rho:,.2f}  vanna {e.vanna:,.2f}  volga {e.volga:,.2f}  charm {e.charm:,.2f}"
        f"  settled {e.settled_value:,.2f}\n"
    )


def _grid(grid: ScenarioGrid, book: int) -> str:
    shocks = grid.shocks
    lines = ["  P&L  spot \\ vol " + "".join(f"{v:>+12.0f}" for v in shocks.vol_points)]
    for i, spot_shock in enumerate(shocks.spot):
        cells = "".join(f"{pnl:>12,.0f}" for pnl in grid.pnl[book, i])
        lines.append(f"  {100 * spot_shock:>+14.0f}%" + cells)
    worst, best = grid.worst(book), grid.best(book)
    lines.append(
        f"  worst {worst.pnl:,.2f} at spot {100 * worst.spot_shock:+.0f}%, vol "
        f"{worst.vol_shock_points:+.0f}; best {best.pnl:,.2f} at spot "
        f"{100 * best.spot_shock:+.0f}%, vol {best.vol_shock_points:+.0f}"
    )
    return "\n".join(lines) + "\n"


def _numbers(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of numbers") from None
