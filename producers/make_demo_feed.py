"""Generate the bundled demo recording: 30 minutes of ticks, vols and client option trades.

    python -m producers.make_demo_feed --seed 7 --out producers/data/demo_feed.jsonl

The bundled `producers/data/demo_feed.jsonl` is exactly this command's output (a test
regenerates it and compares bytes). The session starts 2026-11-20T14:30:00Z and lasts
30 minutes of event time:

* two underlyings as driftless geometric Brownian motion, one tick per second each
  (XYZ from 100 at vol 0.25, ABC from 50 at vol 0.35); bid/ask = mid ∓ 0.01 rounded to
  cents. Per-second variance is scaled to a trading year of 252 sessions of 6.5 hours, so
  the path moves as much as a real intraday session does;
* a `vol` message per underlying at the start and every 10 minutes, nudged by a few
  tenths of a vol point each time;
* 30 client option trades (fills `C-0001`…) into books `mm-1` and `mm-2` at random
  times: OCC options expiring 2026-12-18 or 2027-01-15, strikes on a $5 (XYZ) or $2.50
  (ABC) grid within ±10 % of spot, calls and puts, buys and sells of 10–200 contracts
  (multiplier omitted, so the default of 100), priced at the Black-Scholes value (rate
  0.04, no dividends, ACT/365 to 16:00 New York on expiry) rounded to cents.

Deterministic: numpy's `default_rng(seed)` drives every draw, scalar maths uses Python
floats, and lines are sorted by `(ts, generation order)`, so the same seed gives the same
bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.console import add_debug_argument, run_command
from hedger.core.events import FillReport, PriceTick, VolUpdate
from producers.option_flow import OptionFlow, client_trade, draw_index, numbered

DEFAULT_SEED = 7
DEFAULT_OUT = Path(__file__).parent / "data" / "demo_feed.jsonl"
SESSION_START = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
SESSION_SECONDS = 30 * 60
VOL_INTERVAL_SECONDS = 10 * 60
TRADE_COUNT = 30
RATE = 0.04
HALF_SPREAD = 0.01
EXPIRIES = (dt.date(2026, 12, 18), dt.date(2027, 1, 15))
BOOKS = ("mm-1", "mm-2")
_NS_PER_S = 1_000_000_000
_TRADING_SECONDS_PER_YEAR = 252 * 6.5 * 3600


@dataclass(frozen=True, slots=True)
class Underlying:
    symbol: str
    spot: float
    vol: float
    strike_step: float


UNDERLYINGS = (Underlying("XYZ", 100.0, 0.25, 5.0), Underlying("ABC", 50.0, 0.35, 2.5))


@dataclass(frozen=True, slots=True)
class _Line:
    ts_ns: int
    payload: bytes


def _session_start_ns() -> int:
    return int(SESSION_START.timestamp()) * _NS_PER_S


def _mid_path(underlying: Underlying, normals: np.ndarray) -> list[float]:
    """Driftless GBM, one step per second: mids[i] is the mid at second i."""
    step_var = underlying.vol**2 / _TRADING_SECONDS_PER_YEAR
    mids = [underlying.spot]
    for z in normals[:-1].tolist():
        mids.append(mids[-1] * math.exp(-0.5 * step_var + math.sqrt(step_var) * z))
    return mids


def _ticks(symbol: str, mids: list[float], start_ns: int) -> list[_Line]:
    lines = []
    for second, mid in enumerate(mids):
        bid, ask = round(mid - HALF_SPREAD, 2), round(mid + HALF_SPREAD, 2)
        tick = PriceTick(symbol, start_ns + second * _NS_PER_S, bid, ask, None, (bid + ask) / 2)
        lines.append(_Line(tick.ts_ns, encode_tick(tick)))
    return lines


def _vols(underlying: Underlying, rng: np.random.Generator) -> dict[int, float]:
    """The vol in force from each update second on; the first one is the base vol."""
    vols = {0: underlying.vol}
    vol = underlying.vol
    for second in range(VOL_INTERVAL_SECONDS, SESSION_SECONDS, VOL_INTERVAL_SECONDS):
        vol = round(vol + float(rng.normal(0.0, 0.005)), 4)
        vols[second] = vol
    return vols


def _vol_lines(symbol: str, vols: dict[int, float], start_ns: int) -> list[_Line]:
    updates = [VolUpdate(symbol, start_ns + s * _NS_PER_S, v) for s, v in vols.items()]
    return [_Line(update.ts_ns, encode_vol(update)) for update in updates]


def _vol_at(vols: dict[int, float], second: int) -> float:
    return vols[max(s for s in vols if s <= second)]


@dataclass(frozen=True, slots=True)
class _Market:
    underlying: Underlying
    mids: list[float]
    vols: dict[int, float]


def _trade(market: _Market, rng: np.random.Generator, start_ns: int) -> FillReport:
    """A client trade with no fill id yet: ids are numbered in time order afterwards."""
    # Trades land on a millisecond, after the second's tick, never at the session edges.
    offset_ms = int(rng.integers(5_000, (SESSION_SECONDS - 5) * 1000))
    second = offset_ms // 1000
    flow = OptionFlow(
        expiries=EXPIRIES, books=BOOKS, strike_step=market.underlying.strike_step, rate=RATE
    )
    return client_trade(
        flow,
        rng,
        market.underlying.symbol,
        market.mids[second],
        _vol_at(market.vols, second),
        start_ns + offset_ms * 1_000_000,
    )


def _trade_lines(trades: list[FillReport]) -> list[_Line]:
    return [_Line(trade.ts_ns, encode_fill(trade)) for trade in numbered(trades)]


def generate(seed: int = DEFAULT_SEED) -> bytes:
    """The whole recording for `seed`, as JSONL bytes (one message per line, sorted by ts)."""
    rng = np.random.default_rng(seed)
    start_ns = _session_start_ns()
    lines: list[_Line] = []
    markets = []
    for underlying in UNDERLYINGS:
        mids = _mid_path(underlying, rng.standard_normal(SESSION_SECONDS))
        vols = _vols(underlying, rng)
        markets.append(_Market(underlying, mids, vols))
        lines += _vol_lines(underlying.symbol, vols, start_ns)
        lines += _ticks(underlying.symbol, mids, start_ns)
    trades = [_trade(markets[draw_index(rng, markets)], rng, start_ns) for _ in range(TRADE_COUNT)]
    lines += _trade_lines(trades)
    # sorted() is stable: equal timestamps keep generation order (vol before tick, XYZ first).
    return b"".join(line.payload + b"\n" for line in sorted(lines, key=lambda line: line.ts_ns))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: write the recording for `--seed` to `--out`."""
    parser = argparse.ArgumentParser(
        prog="python -m producers.make_demo_feed",
        description="Generate the seeded 30-minute demo recording (JSONL wire messages).",
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return run_command("make_demo_feed", lambda: _write(args), debug=args.debug)


def _write(args: argparse.Namespace) -> int:
    data = generate(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(data)
    lines = data.count(b"\n")
    print(f"wrote {lines} lines, {len(data)} bytes to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
