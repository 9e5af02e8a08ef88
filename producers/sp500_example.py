"""A real-data recording: S&P 500 daily closes with a rolling book of short index calls.

The closes are the ones the `arch` package ships (Yahoo's ^GSPC, 1999 to 2018, in
`arch/data/sp500/sp500.csv.gz`; read from the installed files, `arch` is not imported).
Each close is a tick at 16:00 New York time. On the first trading day of each quarter the
book `desk` sells `--contracts` at-the-money calls (strike: the close rounded to 5),
expiring at the close of the quarter's last trading day on or before the third Friday of
its last month, at Black-Scholes with `--vol` and `--rate`; a flat vol message opens the
file. Replayed through `hedger backtest replay` (or the live service), the book is
hedged day by day through crashes (2008's 9% and 11.6% days) and calm.

    python -m producers.sp500_example --start 2007-01-01 --end 2010-01-01 --out sp500.jsonl
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import gzip
import importlib.metadata
import io
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from hedger.codec import encode_fill
from hedger.console import add_debug_argument, run_command
from hedger.core.events import FillReport, Side
from hedger.core.greeks import black_scholes
from hedger.core.instruments import OptionContract, year_fraction

SYMBOL = "SPX"
BOOK = "desk"
MULTIPLIER = 100.0
_NEW_YORK = ZoneInfo("America/New_York")
_CLOSE = dt.time(16, 0)
# A quarter's first month: its last, when its calls expire.
_QUARTER_ENDS = {1: 3, 4: 6, 7: 9, 10: 12}


def sp500_closes() -> list[tuple[dt.date, float]]:
    """Every (date, close) of the file `arch` ships, in date order."""
    try:
        path = importlib.metadata.distribution("arch").locate_file("arch/data/sp500/sp500.csv.gz")
        text = gzip.decompress(Path(str(path)).read_bytes()).decode()
    except (importlib.metadata.PackageNotFoundError, OSError) as error:
        raise SystemExit(f"sp500_example: the arch package's S&P 500 file: {error}") from None
    rows = csv.DictReader(io.StringIO(text))
    closes = [(dt.datetime.strptime(r["Date"], "%m/%d/%Y").date(), float(r["Close"])) for r in rows]
    return sorted(closes)


def close_ns(day: dt.date) -> int:
    """The close of `day`, 16:00 New York time, in ns since the epoch."""
    return int(dt.datetime.combine(day, _CLOSE, _NEW_YORK).timestamp()) * 1_000_000_000


def third_friday(year: int, month: int) -> dt.date:
    first = dt.date(year, month, 1)
    return first + dt.timedelta(days=(4 - first.weekday()) % 7 + 14)


def rolling_book(
    closes: list[tuple[dt.date, float]], contracts: float, vol: float, rate: float
) -> Iterator[bytes]:
    """The wire lines: a vol, a tick per close, a sale of calls at each quarter's start."""
    days = [day for day, _ in closes]
    yield orjson.dumps({"type": "vol", "symbol": SYMBOL, "ts": close_ns(days[0]), "vol": vol})
    sold: set[tuple[int, int]] = set()  # the quarters whose calls are sold
    for day, close in closes:
        ts_ns = close_ns(day)
        yield orjson.dumps({"type": "tick", "symbol": SYMBOL, "ts": ts_ns, "last": close})
        if day.month in _QUARTER_ENDS and (day.year, day.month) not in sold:
            sold.add((day.year, day.month))
            expiry = _expiry(days, third_friday(day.year, _QUARTER_ENDS[day.month]))
            yield encode_fill(_sale(day, close, expiry, contracts, vol, rate))


def _expiry(days: list[dt.date], friday: dt.date) -> dt.date:
    """The last trading day on or before `friday` (a Good Friday closes the market)."""
    return max(day for day in days if day <= friday)


def _sale(
    day: dt.date, close: float, expiry: dt.date, contracts: float, vol: float, rate: float
) -> FillReport:
    contract = OptionContract(SYMBOL, expiry, True, 5.0 * round(close / 5.0))
    ts_ns = close_ns(day) + 1_000  # a microsecond after its close: traded on that market
    years = year_fraction(ts_ns, close_ns(expiry))
    price = float(black_scholes(close, contract.strike, years, vol, rate, 0.0, True).price)
    return FillReport(
        f"{SYMBOL}-{day.isoformat()}",
        BOOK,
        contract.occ_symbol,
        Side.SELL,
        contracts,
        round(price, 2),
        ts_ns,
        multiplier=MULTIPLIER,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m producers.sp500_example",
        description="S&P 500 daily closes (from the arch package) and a rolling short-call book.",
    )
    parser.add_argument("--start", type=dt.date.fromisoformat, default=dt.date(2007, 1, 1))
    parser.add_argument("--end", type=dt.date.fromisoformat, default=dt.date(2010, 1, 1))
    parser.add_argument("--contracts", type=float, default=10.0)
    parser.add_argument("--vol", type=float, default=0.2)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--out", type=Path, required=True, help="the recording (JSONL)")
    add_debug_argument(parser)
    args = parser.parse_args(argv)
    return run_command("sp500_example", lambda: _write(args), debug=args.debug)


def _write(args: argparse.Namespace) -> int:
    closes = [(day, close) for day, close in sp500_closes() if args.start <= day < args.end]
    if not closes:
        raise SystemExit(f"sp500_example: no close from {args.start} to {args.end}")
    lines = list(rolling_book(closes, args.contracts, args.vol, args.rate))
    args.out.write_bytes(b"\n".join(lines) + b"\n")
    print(f"wrote {len(lines)} messages ({len(closes)} closes) to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
