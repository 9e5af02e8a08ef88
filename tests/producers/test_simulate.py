"""The market simulator and the option flow: quotes, vols, trades, presets, determinism."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import orjson
import pytest

from hedger.codec import decode_fill, decode_price
from hedger.core.events import FillReport, PriceTick, VolUpdate
from hedger.core.instruments import (
    DEFAULT_EXPIRY_TIME,
    expiry_instant_ns,
    parse_occ,
    year_fraction,
)
from producers import option_flow, simulate
from producers.option_flow import OptionFlow, monthly_expiries, strikes_around, trades_into
from producers.simulate import PRESETS, Session, quote, simulate_session
from tests.backtest import quantlib_reference

NEW_YORK = ZoneInfo("America/New_York")
SHORT = Session(days=1, tick_seconds=300, trades=8, vol_interval_s=3600)


def by_type(events: list, kind: type) -> list:  # type: ignore[type-arg]
    return [event for event in events if isinstance(event, kind)]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_simulate_session_quotes_on_tick_grid_around_positive_mids(preset: str) -> None:
    events = simulate_session(PRESETS[preset], SHORT, seed=5)
    ticks = by_type(events, PriceTick)
    assert len(ticks) == SHORT.steps + 1
    for tick in ticks:
        assert 0 < tick.bid < tick.ask
        assert tick.ask - tick.bid == pytest.approx(0.02, abs=0.0101)
        for price in (tick.bid, tick.ask):
            assert price * 100 == pytest.approx(round(price * 100), abs=1e-6)
    assert [t.ts_ns for t in ticks] == sorted(t.ts_ns for t in ticks)


def test_simulate_session_vol_messages_at_start_and_every_interval() -> None:
    events = simulate_session(PRESETS["calm"], SHORT, seed=5)
    vols = by_type(events, VolUpdate)
    assert [v.ts_ns for v in vols] == [SHORT.start_ns + h * 3600 * 10**9 for h in range(25)]
    assert {v.vol for v in vols} == {0.12}


def test_simulate_session_heston_vols_follow_its_variance() -> None:
    events = simulate_session(PRESETS["volatile"], SHORT, seed=6)
    vols = [v.vol for v in by_type(events, VolUpdate)]
    assert vols[0] == 0.35
    assert len(set(vols)) > 10  # stochastic: it moves


def test_simulate_session_crash_preset_gaps_down_halfway() -> None:
    session = Session(days=2, tick_seconds=600, trades=0)
    ticks = by_type(simulate_session(PRESETS["crash-with-gap"], session, seed=1), PriceTick)
    moves = np.diff(np.log([t.mark for t in ticks]))
    gap = int(np.argmin(moves))
    assert gap + 1 == session.steps // 2
    assert moves[gap] == pytest.approx(math.log(0.88), abs=0.03)


def test_simulate_session_same_seed_same_events_other_path_differs() -> None:
    first = simulate_session(PRESETS["crash-with-gap"], SHORT, seed=9, path=0)
    assert simulate_session(PRESETS["crash-with-gap"], SHORT, seed=9, path=0) == first
    assert simulate_session(PRESETS["crash-with-gap"], SHORT, seed=9, path=1) != first


def test_simulate_session_trades_priced_at_black_scholes_of_their_moment() -> None:
    events = simulate_session(PRESETS["calm"], SHORT, seed=3)
    trades = by_type(events, FillReport)
    tag = trades[0].fill_id.split("-")[1]
    assert [t.fill_id for t in trades] == [f"C-{tag}-{n:04d}" for n in range(1, 9)]
    marks = {t.ts_ns: t.mark for t in by_type(events, PriceTick)}
    for trade in trades:
        contract = parse_occ(trade.instrument, trade.ts_ns)
        spot = marks[trade.ts_ns - 1_000]  # a microsecond after its tick
        expiry = expiry_instant_ns(
            contract.expiry,
            DEFAULT_EXPIRY_TIME,
            NEW_YORK,
        )
        years = year_fraction(trade.ts_ns, expiry)
        expected = quantlib_reference.price(
            spot, contract.strike, years, 0.12, 0.0, 0.0, contract.is_call
        )
        assert trade.price == pytest.approx(max(0.01, round(expected, 2)), abs=1e-9)
        assert abs(contract.strike / spot - 1) <= 0.10 + 5 / spot
        assert 1000 <= trade.qty * 100 <= 20_000


def test_simulate_session_trades_at_start_all_at_first_tick() -> None:
    session = Session(days=1, tick_seconds=300, trades=4, trades_at="start")
    trades = by_type(simulate_session(PRESETS["calm"], session, seed=2), FillReport)
    assert {t.ts_ns for t in trades} == {session.start_ns + 1_000}


def test_quote_rounds_to_grid_and_keeps_one_tick_apart() -> None:
    assert quote(100.004, 0.01, 0.01) == (99.99, 100.01)
    assert quote(100.0, 0.0, 0.01) == (100.0, 100.01)
    assert quote(0.001, 0.01, 0.01) == (0.01, 0.02)


def test_session_invalid_refused() -> None:
    with pytest.raises(ValueError, match="invalid session"):
        Session(days=0)
    with pytest.raises(ValueError, match="trades_at"):
        Session(trades_at="noon")


def test_simulate_main_writes_recording_the_codec_reads(tmp_path: Path) -> None:
    out = tmp_path / "sim.jsonl"
    argv = ["--preset", "trending", "--days", "0.5", "--tick-seconds", "600", "--out", str(out)]
    assert simulate.main(argv) == 0
    lines = out.read_bytes().splitlines()
    kinds = [orjson.loads(line)["type"] for line in lines]
    assert kinds.count("tick") == 73
    assert kinds.count("fill") == 20
    for line, kind in zip(lines, kinds, strict=True):
        (decode_fill if kind == "fill" else decode_price)(line)


def test_simulate_main_needs_exactly_one_destination() -> None:
    with pytest.raises(SystemExit, match="exactly one"):
        simulate.main(["--preset", "calm"])


def test_monthly_expiries_are_third_fridays_after_the_date() -> None:
    assert monthly_expiries(dt.date(2026, 11, 20), 3) == (
        dt.date(2026, 12, 18),
        dt.date(2027, 1, 15),
        dt.date(2027, 2, 19),
    )
    assert monthly_expiries(dt.date(2026, 11, 19), 1) == (dt.date(2026, 11, 20),)


def test_strikes_around_grid_within_moneyness() -> None:
    assert strikes_around(100.0, 5.0, 0.10) == [90.0, 95.0, 100.0, 105.0, 110.0]
    assert strikes_around(51.0, 2.5, 0.05) == [50.0, 52.5]
    assert strikes_around(1.0, 5.0, 0.1) == [5.0]  # nothing on the grid: the nearest strike


def test_trades_into_recording_priced_at_last_mark_and_vol(tmp_path: Path) -> None:
    start = SHORT.start_ns
    ticks = [
        PriceTick("XYZ", start + i * 10**9, 99.9 + i, 100.1 + i, None, 100.0 + i) for i in range(5)
    ]
    vol = VolUpdate("XYZ", start, 0.3)
    flow = OptionFlow(expiries=monthly_expiries(dt.date(2026, 11, 20), 2), rate=0.01)
    trades = trades_into([vol, *ticks], flow, count=6, seed=4)
    assert len(trades) == 6
    assert [t.ts_ns for t in trades] == sorted(t.ts_ns for t in trades)
    for trade in trades:
        spot = 100.0 + (trade.ts_ns - 1_000 - start) // 10**9
        contract = parse_occ(trade.instrument, trade.ts_ns)
        years = year_fraction(
            trade.ts_ns, expiry_instant_ns(contract.expiry, DEFAULT_EXPIRY_TIME, flow.expiry_zone)
        )
        expected = quantlib_reference.price(
            spot, contract.strike, years, 0.3, 0.01, 0.0, contract.is_call
        )
        assert trade.price == pytest.approx(max(0.01, round(expected, 2)), abs=0.0051)
    assert trades_into([vol, *ticks], flow, count=6, seed=4) == trades


def test_option_flow_main_writes_fills_for_a_recording(tmp_path: Path) -> None:
    market = tmp_path / "market.jsonl"
    simulate.main(["--days", "0.2", "--trades", "0", "--out", str(market)])
    out = tmp_path / "flow.jsonl"
    assert option_flow.main([str(market), "--trades", "5", "--seed", "2", "--out", str(out)]) == 0
    fills = [decode_fill(line) for line in out.read_bytes().splitlines()]
    tag = fills[0].fill_id.split("-")[1]
    assert [f.fill_id for f in fills] == [f"C-{tag}-{n:04d}" for n in range(1, 6)]
    assert {f.book for f in fills} <= {"mm-1", "mm-2"}
    # Another draw over the same market names its trades apart; the same draw, the same.
    other = tmp_path / "other.jsonl"
    assert option_flow.main([str(market), "--trades", "5", "--seed", "3", "--out", str(other)]) == 0
    others = {decode_fill(line).fill_id for line in other.read_bytes().splitlines()}
    assert not others & {f.fill_id for f in fills}
    again = tmp_path / "again.jsonl"
    assert option_flow.main([str(market), "--trades", "5", "--seed", "2", "--out", str(again)]) == 0
    assert again.read_bytes() == out.read_bytes()
