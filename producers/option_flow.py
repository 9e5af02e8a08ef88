"""Option flow: client trades into market makers' books, so a book evolves like an inventory.

Each trade is a client buying or selling 10–200 contracts (multiplier omitted: the hedger's
default) of a listed option on the underlying: an expiry drawn from `expiries`, call or
put, a strike on the `strike_step` grid within ±`moneyness` of spot, priced at its
Black-Scholes value (ACT/365 to the expiry instant, rounded to cents, at least 0.01). The
side is the market maker's: `buy` means the book bought from the client.

    python -m producers.option_flow producers/data/demo_feed.jsonl --trades 40 --seed 3 \\
        --out flow.jsonl
    python -m producers.replay producers/data/demo_feed.jsonl flow.jsonl --bootstrap HOST:PORT

The command reads a recording (any format `producers.replay` reads), draws trades at
uniform random times within it, each priced at the last mark and vol of its underlying
before that time, and writes them as a fills recording (or sends them to the fills topic
with `--bootstrap`, paced by `--speed` like the replayer). The same seed and recording give
the same bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from hedger.codec import DecodeError, decode_price, encode_fill
from hedger.console import add_debug_argument, run_command
from hedger.core.events import FillReport, OptionQuote, PriceTick, Side, VolUpdate
from hedger.core.greeks import black_scholes
from hedger.core.instruments import (
    DEFAULT_EXPIRY_TIME,
    DEFAULT_EXPIRY_TIMEZONE,
    OptionContract,
    expiry_instant_ns,
    year_fraction,
)
from producers.publish import PublishOptions, publish
from producers.reading_args import add_reading_arguments, reading_options
from producers.recording import read_recording
from producers.routing import ReplayTopics, route_line

DEFAULT_BOOKS = ("mm-1", "mm-2")
_FRIDAY = 4


@dataclass(frozen=True, slots=True)
class OptionFlow:
    """How client trades are drawn; see the module docstring."""

    expiries: tuple[dt.date, ...]
    books: tuple[str, ...] = DEFAULT_BOOKS
    strike_step: float = 5.0
    moneyness: float = 0.10
    min_contracts: int = 10
    max_contracts: int = 200
    rate: float = 0.0
    dividend_yield: float = 0.0
    expiry_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_EXPIRY_TIMEZONE))

    def __post_init__(self) -> None:
        valid = self.expiries and self.books and self.strike_step > 0 and self.moneyness > 0
        if not valid or not 1 <= self.min_contracts <= self.max_contracts:
            raise ValueError(f"invalid option flow {self}")


def monthly_expiries(after: dt.date, count: int) -> tuple[dt.date, ...]:
    """The next `count` standard monthly expiries (third Fridays) strictly after `after`."""
    found: list[dt.date] = []
    year, month = after.year, after.month
    while len(found) < count:
        first = dt.date(year, month, 1)
        third_friday = first + dt.timedelta(days=(_FRIDAY - first.weekday()) % 7 + 14)
        if third_friday > after:
            found.append(third_friday)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return tuple(found)


def strikes_around(spot: float, step: float, moneyness: float) -> list[float]:
    """Strikes on the `step` grid within ±`moneyness` (a fraction) of `spot`."""
    low = math.ceil(spot * (1 - moneyness) / step)
    high = math.floor(spot * (1 + moneyness) / step)
    return [k * step for k in range(max(low, 1), high + 1)] or [max(round(spot / step), 1) * step]


def draw_index(rng: np.random.Generator, options: Sequence[object]) -> int:
    """A uniform random index into `options`."""
    return int(rng.integers(len(options)))


def client_trade(
    flow: OptionFlow, rng: np.random.Generator, symbol: str, spot: float, vol: float, ts_ns: int
) -> FillReport:
    """One client trade at `ts_ns` with the market at `spot` and `vol`; its fill id is
    empty (`numbered` sets ids in time order). Draws expiry, call/put, strike, book, side
    and size from `rng`, in that order."""
    strikes = strikes_around(spot, flow.strike_step, flow.moneyness)
    contract = OptionContract(
        root=symbol,
        expiry=flow.expiries[draw_index(rng, flow.expiries)],
        is_call=bool(rng.integers(2)),
        strike=strikes[draw_index(rng, strikes)],
    )
    expiry_ns = expiry_instant_ns(contract.expiry, DEFAULT_EXPIRY_TIME, flow.expiry_zone)
    value = black_scholes(
        spot,
        contract.strike,
        year_fraction(ts_ns, expiry_ns),
        vol,
        flow.rate,
        flow.dividend_yield,
        contract.is_call,
    ).price
    return FillReport(
        fill_id="",
        book=flow.books[draw_index(rng, flow.books)],
        instrument=contract.occ_symbol,
        side=Side.BUY if rng.integers(2) else Side.SELL,
        qty=float(rng.integers(flow.min_contracts, flow.max_contracts + 1)),
        price=max(0.01, round(float(value), 2)),
        ts_ns=ts_ns,
    )


def numbered(trades: Iterable[FillReport], prefix: str = "C-") -> list[FillReport]:
    """The trades in time order with fill ids `<prefix>0001`, `<prefix>0002`, ..."""
    in_time_order = sorted(trades, key=lambda trade: trade.ts_ns)
    return [replace(t, fill_id=f"{prefix}{n:04d}") for n, t in enumerate(in_time_order, start=1)]


def named_by_draw(trades: Iterable[FillReport]) -> list[FillReport]:
    """`numbered` under a tag that digests every trade's terms: `C-<tag>-0001`, ... The
    same draw names its trades the same (a replay repeats them, and the hedger drops the
    repeats); another draw names them apart, so two generated files merged, or one merged
    with the bundled feed (`C-0001`, ...), never share an id. (An id shared in a book with
    other terms is a conflicting fill: refused, its book latched.)"""
    trades = list(trades)
    terms = "\n".join(sorted(repr(astuple(replace(trade, fill_id=""))) for trade in trades))
    tag = hashlib.blake2b(terms.encode(), digest_size=4).hexdigest()
    return numbered(trades, f"C-{tag}-")


@dataclass(slots=True)
class _Market:
    """Ticks and vols of a recording, per symbol, in time order."""

    ticks: dict[str, list[PriceTick]] = field(default_factory=dict)
    vols: dict[str, list[VolUpdate]] = field(default_factory=dict)

    def add(self, event: PriceTick | VolUpdate) -> None:
        target = self.ticks if isinstance(event, PriceTick) else self.vols
        target.setdefault(event.symbol, []).append(event)  # type: ignore[arg-type]

    def vol_at(self, symbol: str, ts_ns: int, default: float) -> float:
        before = [v.vol for v in self.vols.get(symbol, []) if v.ts_ns <= ts_ns]
        return before[-1] if before else default


def trades_into(
    events: Iterable[PriceTick | VolUpdate],
    flow: OptionFlow,
    count: int,
    seed: int,
    default_vol: float = 0.2,
) -> list[FillReport]:
    """`count` client trades at uniform random ticks of the recorded `events`, numbered."""
    market = _Market()
    for event in events:
        market.add(event)
    symbols = sorted(market.ticks)
    if not symbols:
        raise ValueError("the recording has no ticks to trade against")
    rng = np.random.default_rng(seed)
    trades = []
    for _ in range(count):
        symbol = symbols[draw_index(rng, symbols)]
        tick = market.ticks[symbol][draw_index(rng, market.ticks[symbol])]
        vol = market.vol_at(symbol, tick.ts_ns, default_vol)
        # One microsecond after its tick, so the trade is booked against that market.
        trades.append(client_trade(flow, rng, symbol, tick.mark, vol, tick.ts_ns + 1_000))
    return named_by_draw(trades)


def _recorded_prices(path: Path, args: argparse.Namespace) -> list[PriceTick | VolUpdate]:
    options, window = reading_options(args, "option_flow")
    events = []
    for line in read_recording(path, options):
        try:
            event = decode_price(line.value)
        except DecodeError:
            continue  # fills, quotes and bad lines carry no market
        if isinstance(event, OptionQuote):
            continue  # option quotes move no underlying price or flat vol
        after_start = window.start_ns is None or event.ts_ns >= window.start_ns
        if after_start and (window.end_ns is None or event.ts_ns < window.end_ns):
            events.append(event)
    return events


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producers.option_flow",
        description="Draw client option trades into books against a recorded market.",
    )
    parser.add_argument("recording", type=Path, help="the market: ticks and vols")
    parser.add_argument("--trades", type=int, default=30, help="how many (default: 30)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--books", default=",".join(DEFAULT_BOOKS), help="comma list")
    parser.add_argument("--strike-step", type=float, default=5.0)
    parser.add_argument("--moneyness", type=float, default=0.10, help="strikes within ±this")
    parser.add_argument("--expiries", type=int, default=2, help="monthly expiries to use")
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--vol", type=float, default=0.2, help="until a vol message says")
    parser.add_argument("--out", type=Path, help="fills recording to write (JSONL)")
    parser.add_argument("--bootstrap", help="send the trades to Kafka instead")
    parser.add_argument("--fills-topic", default="exec.fills")
    parser.add_argument("--speed", type=float, default=0.0, help="with --bootstrap (0 = flat out)")
    add_reading_arguments(parser, per_file=False)
    add_debug_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if (args.out is None) == (args.bootstrap is None):
        raise SystemExit("option_flow: pass exactly one of --out FILE and --bootstrap HOST:PORT")
    return run_command(
        "option_flow", lambda: _option_flow(args), debug=args.debug, bootstrap=args.bootstrap
    )


def _option_flow(args: argparse.Namespace) -> int:
    events = _recorded_prices(args.recording, args)
    if not events:
        raise SystemExit(f"option_flow: no ticks in {args.recording}")
    start = dt.datetime.fromtimestamp(events[0].ts_ns / 1e9, dt.UTC).date()
    flow = OptionFlow(
        expiries=monthly_expiries(start, args.expiries),
        books=tuple(book.strip() for book in args.books.split(",") if book.strip()),
        strike_step=args.strike_step,
        moneyness=args.moneyness,
        rate=args.rate,
    )
    trades = trades_into(events, flow, args.trades, args.seed, args.vol)
    if args.out is not None:
        args.out.write_bytes(b"".join(encode_fill(trade) + b"\n" for trade in trades))
        print(f"wrote {len(trades)} client trades to {args.out}")
    else:
        asyncio.run(_send(trades, args.bootstrap, args.fills_topic, args.speed))
        print(f"sent {len(trades)} client trades to {args.fills_topic}")
    return 0


async def _send(trades: list[FillReport], bootstrap: str, topic: str, speed: float) -> None:
    topics = ReplayTopics(fills=topic)
    lines = [route_line(encode_fill(trade), n, topics) for n, trade in enumerate(trades, 1)]
    await publish(lines, bootstrap, PublishOptions(speed=speed), client_id="option-flow")


if __name__ == "__main__":
    raise SystemExit(main())
