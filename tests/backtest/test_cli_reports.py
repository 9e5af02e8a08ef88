"""`hedger backtest` end to end from the command line: tables, JSON and HTML reports."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import orjson
import pytest

from hedger.cli import main
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.core.events import FillReport, PriceTick
from hedger.core.instruments import year_fraction
from tests.backtest import quantlib_reference
from tests.backtest import scenario as sc


def recording(tmp_path: Path) -> Path:
    price = round(sc.call_value(1, 100.0), 2)
    events: list[PriceTick | FillReport] = [sc.tick(0, 100.0), sc.client_buys_calls(1, 20, price)]
    events += [sc.tick(60 * (i + 1), 100.0 + 3.0 * math.sin(i / 3)) for i in range(60)]
    lines = [encode_vol(sc.vol(0))]
    lines += [encode_fill(e) if isinstance(e, FillReport) else encode_tick(e) for e in events]
    path = tmp_path / "feed.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page
    assert 'src="' not in page  # no image, script or frame fetched from anywhere
    assert "<link" not in page
    assert page.count("<svg") >= 4


def test_backtest_replay_prints_table_and_writes_json_and_html(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDGER_RATE", str(sc.RATE))
    monkeypatch.setenv("HEDGER_DEFAULT_VOL", str(sc.VOL))
    feed, report, page = recording(tmp_path), tmp_path / "r.json", tmp_path / "r.html"
    argv = ["backtest", "replay", str(feed), "--policy", "band=100", "--policy", "band=500"]
    argv += ["--half-spread", "0.01", "--commission", "1", "--sample-s", "60", "--no-progress"]
    assert main([*argv, "--json", str(report), "--html", str(page)]) == 0
    out = capsys.readouterr().out
    for name in ("no hedge", "static", "band 100 min 1s", "band 500 min 1s", "P&L attribution"):
        assert name in out
    document = orjson.loads(report.read_bytes())
    summary = {row["strategy"]: row for row in document["summary"]}
    assert summary["no hedge"]["trades"] == 0
    assert summary["static"]["trades"] == 1
    assert summary["band 100 min 1s"]["trades"] > summary["band 500 min 1s"]["trades"]
    static = summary["static"]
    assert static["commissions"] == pytest.approx(1.0)
    shares = round(
        2000 * quantlib_reference.delta(100.0, 100.0, _years(1), sc.VOL, sc.RATE, 0, True)
    )
    assert static["slippage"] == pytest.approx(0.01 * shares)
    # A valuation a minute from 0 s to 3600 s, the last one at the end.
    assert len(document["first_path_series"]["static"]["pnl"]) == 61
    html = page.read_text()
    assert_self_contained(html)
    assert "band 500 min 1s" in html
    # The engine's settings as rows, not a Python dump.
    assert "<h2>Engine settings</h2>" in html
    assert f"<td>rate</td><td>{sc.RATE:g}</td>" in html
    assert "EngineConfig(" not in html
    assert "BandPolicy(" not in html
    assert document["engine"]["controls.price_collar"] == "0.05"


def _years(second: float) -> float:
    return year_fraction(sc.T0 + round(second * sc.SECOND), sc.EXPIRY_NS)


def test_backtest_simulate_runs_paths_and_reports_paths_basis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "sim.json"
    argv = ["backtest", "simulate", "--preset", "calm", "--paths", "3", "--days", "0.5"]
    argv += ["--tick-seconds", "600", "--trades", "3", "--policy", "band=200", "--no-progress"]
    assert main([*argv, "--json", str(report)]) == 0
    document = orjson.loads(report.read_bytes())
    assert {row["basis"] for row in document["summary"]} == {"paths"}
    assert [len(runs) for runs in document["paths"].values()] == [3, 3, 3]
    assert "3 paths" in capsys.readouterr().out


def test_backtest_mc_json_has_exactly_the_per_interval_fields(tmp_path: Path) -> None:
    report, page = tmp_path / "mc.json", tmp_path / "mc.html"
    argv = ["backtest", "mc", "--spot", "49", "--strike", "50", "--rate", "0.05"]
    argv += ["--dividend-yield", "0", "--drift", "0.13", "--vol", "0.2", "--maturity", "0.3846"]
    argv += ["--quantity", "-100000", "--multiplier", "1", "--rebalance", "0.0192,0.0096"]
    argv += ["--paths", "2000", "--seed", "3", "--cost-rate", "0", "--no-progress"]
    assert main([*argv, "--json", str(report), "--html", str(page)]) == 0
    document = orjson.loads(report.read_bytes())
    rows = document["intervals"]
    assert [set(row) for row in rows] == [
        {"interval", "rebalances", "mean_cost", "std_cost", "std_cost_over_price"}
    ] * 2
    assert [row["rebalances"] for row in rows] == [20, 40]
    price = quantlib_reference.price(49, 50, 0.3846, 0.2, 0.05, 0.0, True)
    assert document["black_scholes_price"] == pytest.approx(price)
    assert rows[1]["std_cost"] < rows[0]["std_cost"]
    assert "financing interest included" in document["cost_definition"]
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html
    assert html.count("<svg") == 2


def test_backtest_mc_put_flag_prices_a_put(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["backtest", "mc", "--put", "--paths", "100", "--rebalance", "0.05", "--no-progress"]
    assert main(argv) == 0
    price = quantlib_reference.price(100, 100, 0.25, 0.2, 0.0, 0.0, False)
    assert f"Black-Scholes price of one option: {price:.4f}" in capsys.readouterr().out


def test_backtest_bad_policy_exits_2_with_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["backtest", "replay", str(recording(tmp_path)), "--policy", "colour=red"]
    assert main(argv) == 2
    assert "colour=red" in capsys.readouterr().err


def test_reading_options_before_i_file_read_that_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A vendor CSV of the ticks (its own columns, ms times) and the wire-format fills:
    read with `-i`, they back-test exactly as the all-wire recording does; with the
    options applied to both files, the fills file reads as nothing, and that is an error
    (it was a silent all-zero backtest)."""
    wire = recording(tmp_path)
    messages = [orjson.loads(line) for line in wire.read_bytes().splitlines()]
    quotes = tmp_path / "quotes.csv"
    rows = [
        f"{m['symbol']},{m['ts'] // 10**6},{m['bid']},{m['ask']}"
        for m in messages
        if m["type"] == "tick"
    ]
    quotes.write_text("ric,time,bid_px,ask_px\n" + "\n".join(rows) + "\n")
    vols_and_fills = tmp_path / "fills.jsonl"
    vols_and_fills.write_bytes(
        b"".join(orjson.dumps(m) + b"\n" for m in messages if m["type"] != "tick")
    )
    reading = ["--map", "symbol=ric", "--map", "ts=time", "--map", "bid=bid_px"]
    reading += ["--map", "ask=ask_px", "--ts-unit", "ms"]
    options = ["--policy", "band=100", "--sample-s", "60", "--no-progress"]
    reports = {}
    for name, files in (
        ("wire", [str(wire)]),
        ("per file", [*reading, "-i", str(quotes), str(vols_and_fills)]),
    ):
        report = tmp_path / f"{name}.json"
        assert main(["backtest", "replay", *files, *options, "--json", str(report)]) == 0
        reports[name] = orjson.loads(report.read_bytes())["summary"]
    assert reports["per file"] == reports["wire"]
    assert reports["wire"][2]["trades"] > 0
    capsys.readouterr()

    both = [str(quotes), str(vols_and_fills), *reading, *options]
    assert main(["backtest", "replay", *both]) == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(f"hedger backtest: nothing in {vols_and_fills} could be read")


def test_every_order_and_fill_is_a_row_in_json_and_csv(tmp_path: Path) -> None:
    """Trade by trade: each hedge order with what its fills came to, each fill with its
    slippage over the order's arrival mark; per strategy they add up to the summary's
    slippage and fees, which the run counts as its fills come."""
    paths = {name: tmp_path / name for name in ("r.json", "orders.csv", "fills.csv")}
    argv = ["backtest", "replay", str(recording(tmp_path)), "--policy", "band=100"]
    argv += ["--half-spread", "0.02", "--commission", "1", "--partial-fills", "3"]
    argv += ["--latency-ms", "50", "--no-progress", "--json", str(paths["r.json"])]
    argv += ["--orders-csv", str(paths["orders.csv"]), "--fills-csv", str(paths["fills.csv"])]
    assert main(argv) == 0
    document = orjson.loads(paths["r.json"].read_bytes())
    orders, fills = document["orders"], document["fills"]
    assert {o["strategy"] for o in orders} == {"static", "band 100 min 1s"}
    assert len(fills) > len(orders)  # partial fills
    for summary in document["summary"]:
        mine = [f for f in fills if f["strategy"] == summary["strategy"]]
        assert sum(f["slippage"] for f in mine) == pytest.approx(summary["slippage"])
        assert sum(f["fee"] for f in mine) == pytest.approx(summary["commissions"])
    by_id = {(o["strategy"], o["order_id"]): o for o in orders}
    for order in orders:
        own = [
            f
            for f in fills
            if (f["strategy"], f["order_id"]) == (order["strategy"], order["order_id"])
        ]
        assert order["filled_qty"] == pytest.approx(order["qty"])
        assert sum(f["qty"] * f["price"] for f in own) / order["filled_qty"] == pytest.approx(
            order["avg_fill_price"]
        )
        assert all(f["ts_ns"] >= order["ts_ns"] + 50_000_000 for f in own)
    for fill in fills:
        order = by_id[(fill["strategy"], fill["order_id"])]
        sign = 1 if fill["side"] == "buy" else -1
        assert fill["slippage"] == pytest.approx(
            sign * fill["qty"] * (fill["price"] - order["ref_price"])
        )
    for name, rows in (("orders.csv", orders), ("fills.csv", fills)):
        with paths[name].open(newline="") as file:
            read = list(csv.DictReader(file))
        assert [row["order_id"] for row in read] == [row["order_id"] for row in rows]
        assert [float(row["slippage"]) for row in read] == pytest.approx(
            [r["slippage"] for r in rows]
        )


def test_windows_backtest_each_span_on_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An hour and its last tick split into 20-minute windows: four runs, each as a
    backtest of that span alone (read with --start/--end) comes out, and a per-window
    table."""
    feed = recording(tmp_path)
    options = ["--policy", "band=100", "--sample-s", "60", "--no-progress"]
    report = tmp_path / "w.json"
    argv = ["backtest", "replay", str(feed), "--windows", "20m", *options, "--json", str(report)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    document = orjson.loads(report.read_bytes())
    minutes = 20 * 60 * sc.SECOND
    assert document["windows"] == [
        {"start": sc.T0 + n * minutes, "end": sc.T0 + (n + 1) * minutes} for n in range(4)
    ]
    assert document["summary"][0]["paths"] == 4
    assert "Per window" in out
    for n, window in enumerate(document["windows"]):
        alone = tmp_path / f"alone{n}.json"
        span = ["--start", str(window["start"]), "--end", str(window["end"])]
        assert main(["backtest", "replay", str(feed), *span, *options, "--json", str(alone)]) == 0
        single = orjson.loads(alone.read_bytes())["paths"]
        assert {name: runs[n] for name, runs in document["paths"].items()} == {
            name: runs[0] for name, runs in single.items()
        }
