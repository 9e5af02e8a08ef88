"""`hedger backtest` end to end from the command line: tables, JSON and HTML reports."""

from __future__ import annotations

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
