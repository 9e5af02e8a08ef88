"""`hedger risk` on recorded files: the printed Greeks and grid, checked against QuantLib."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from hedger.cli import main
from hedger.codec import encode_fill, encode_quote, encode_tick, encode_vol
from hedger.core.events import FillReport, OptionQuote, PriceTick, Side, VolUpdate
from tests.scenarios import market_maker as mm

ql = pytest.importorskip("QuantLib")


def recording(tmp_path: Path) -> Path:
    lines = [
        encode_vol(VolUpdate("XYZ", mm.START_NS - 2, 0.25)),
        encode_tick(PriceTick("XYZ", mm.START_NS, 99.99, 100.01, None, 100.0)),
        encode_fill(
            FillReport("C-1", "mm-1", mm.CALL.occ_symbol, Side.BUY, 100, 5.0, mm.START_NS + 1)
        ),
        b'{"type":"tick","symbol":"XYZ","ts":5,"bid":2,"ask":1}',  # crossed: unusable
        encode_quote(OptionQuote(mm.CALL.occ_symbol, mm.START_NS + 2, 0.01, 0.02)),  # too cheap
    ]
    path = tmp_path / "book.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def call_value(spot: float, vol: float) -> float:
    time = mm.YEARS_TO_EXPIRY
    return float(
        ql.BlackCalculator(
            ql.PlainVanillaPayoff(ql.Option.Call, mm.STRIKE),
            spot * math.exp(mm.RATE * time),
            vol * math.sqrt(time),
            math.exp(-mm.RATE * time),
        ).value()
    )


def test_risk_report_prints_greeks_and_grid_with_quantlib_cells(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEDGER_RATE", str(mm.RATE))

    arguments = ["risk", str(recording(tmp_path)), "--spot-shocks=-10,0,10", "--vol-shocks=-5,0,5"]
    code = main(arguments)

    out = capsys.readouterr().out
    assert code == 0
    assert "5 messages read, 2 unusable" in out
    assert "mm-1  XYZ at 100.00" in out
    # 100 contracts × 100 shares: the +10% / +5 vol cell, in whole currency.
    best = (call_value(110.0, 0.30) - call_value(100.0, 0.25)) * 10_000
    assert f"best {best:,.2f} at spot +10%, vol +5" in out
    first_cells = [line.split()[0] for line in out.splitlines() if line.strip()]
    grid_rows = [cell for cell in first_cells if cell in ("-10%", "+0%", "+10%")]
    assert len(grid_rows) == 3


def test_risk_report_needs_files_or_bootstrap(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["risk"]) == 2
    assert "give JSONL files or --bootstrap" in capsys.readouterr().out
