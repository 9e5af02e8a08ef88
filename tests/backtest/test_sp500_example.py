"""A real-data example: the S&P 500's daily closes of 2007-2009 (the file the `arch`
package ships), a rolling book of short quarterly index calls, back-tested without costs.
Its figures are checked against a settlement and a delta hedger written here, in numpy
and scipy, on their own: the unhedged book's final P&L, and the daily-rebalanced one's."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import orjson
import pytest
from scipy.stats import norm

from hedger.cli import main
from producers import sp500_example

NS_PER_YEAR = 365 * 86_400 * 1e9
VOL = 0.2


def test_sp500_rolling_calls_backtest_as_computed_independently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording, report = tmp_path / "sp500.jsonl", tmp_path / "report.json"
    argv = ["--start", "2007-01-01", "--end", "2010-01-01", "--out", str(recording)]
    assert sp500_example.main(argv) == 0
    messages = [orjson.loads(line) for line in recording.read_bytes().splitlines()]
    assert sum(m["type"] == "tick" for m in messages) == 756  # trading days of 2007-2009
    assert sum(m["type"] == "fill" for m in messages) == 12  # a sale a quarter
    monkeypatch.setenv("HEDGER_RATE", "0")
    monkeypatch.setenv("HEDGER_DEFAULT_VOL", str(VOL))
    argv = ["backtest", "replay", str(recording), "--policy", "band=0,interval=0"]
    assert main([*argv, "--sample-s", "86400", "--no-progress", "--json", str(report)]) == 0
    summary = {s["strategy"]: s for s in orjson.loads(report.read_bytes())["summary"]}
    (dynamic,) = set(summary) - {"no hedge", "static"}

    unhedged, hedged = replicate(messages, hedge=False), replicate(messages, hedge=True)
    assert summary["no hedge"]["final_pnl"] == pytest.approx(unhedged, abs=0.01)
    assert summary[dynamic]["final_pnl"] == pytest.approx(hedged, abs=0.01)
    # The figures docs/how-to/backtest-a-policy.md quotes.
    assert round(unhedged) == 686_520
    assert round(hedged) == -9_460


def replicate(messages: list[dict], hedge: bool) -> float:
    """Final P&L of the book: calls sold at their price, settled physically at the
    expiry close (an in-the-money short call delivers its shares at the strike), and,
    with `hedge`, the net delta traded back to zero in whole shares at every close and
    after every sale, at the close."""
    cash = shares = 0.0
    options: list[tuple[float, int, float]] = []  # strike, expiry (ns), units
    mark = math.nan

    def settle(by_ns: int, spot: float) -> None:
        nonlocal cash, shares, options
        for strike, expiry_ns, units in options:
            if expiry_ns <= by_ns and spot > strike:
                shares += units
                cash -= units * strike
        options = [option for option in options if option[1] > by_ns]

    def rebalance(ts_ns: int) -> None:
        nonlocal cash, shares
        net = shares
        for strike, expiry_ns, units in options:
            years = (expiry_ns - ts_ns) / NS_PER_YEAR
            d1 = (math.log(mark / strike) + 0.5 * VOL * VOL * years) / (VOL * math.sqrt(years))
            net += units * norm.cdf(d1)
        quantity = round(-net)
        shares += quantity
        cash -= quantity * mark

    for message in messages:
        ts_ns = message["ts"]
        if message["type"] == "tick":
            if not math.isnan(mark):
                settle(ts_ns - 1, mark)
            mark = message["last"]
            settle(ts_ns, mark)
        elif message["type"] == "fill":
            occ = message["instrument"]
            expiry = dt.datetime.strptime(occ[6:12], "%y%m%d").date()
            units = -message["qty"] * message["multiplier"]  # the book sells
            options.append((int(occ[13:]) / 1000, sp500_example.close_ns(expiry), units))
            cash -= units * message["price"]
        else:
            continue
        if hedge:
            rebalance(ts_ns)
    return cash + shares * mark
