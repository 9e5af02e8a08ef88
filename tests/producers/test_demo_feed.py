"""The demo feed generator is deterministic and the bundled recording is its output."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson
import pytest

import producers.make_demo_feed as demo_feed
from hedger.codec import decode_fill, decode_price
from hedger.core.events import FillReport, PriceTick, VolUpdate
from hedger.core.greeks import black_scholes
from hedger.core.instruments import (
    DEFAULT_EXPIRY_TIME,
    DEFAULT_EXPIRY_TIMEZONE,
    OptionContract,
    expiry_instant_ns,
    parse_occ,
    year_fraction,
)

BUNDLED = Path(demo_feed.__file__).parent / "data" / "demo_feed.jsonl"
SESSION_START_NS = int(dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC).timestamp()) * 10**9
SESSION_NS = 30 * 60 * 10**9


@pytest.fixture(scope="module")
def feed() -> bytes:
    return demo_feed.generate(demo_feed.DEFAULT_SEED)


@pytest.fixture(scope="module")
def events(feed: bytes) -> list[PriceTick | VolUpdate | FillReport]:
    decoded: list[PriceTick | VolUpdate | FillReport] = []
    for line in feed.splitlines():
        kind = orjson.loads(line)["type"]
        decoded.append(decode_fill(line) if kind == "fill" else decode_price(line))
    return decoded


def test_generate_same_seed_gives_identical_bytes(feed: bytes) -> None:
    assert demo_feed.generate(demo_feed.DEFAULT_SEED) == feed


def test_generate_other_seed_gives_other_feed(feed: bytes) -> None:
    assert demo_feed.generate(demo_feed.DEFAULT_SEED + 1) != feed


def test_bundled_feed_equals_fresh_generation_with_documented_seed(feed: bytes) -> None:
    assert demo_feed.DEFAULT_SEED == 7
    assert "--seed 7 --out producers/data/demo_feed.jsonl" in (demo_feed.__doc__ or "")
    assert BUNDLED.read_bytes() == feed


def test_main_writes_generated_feed_to_out(tmp_path: Path, feed: bytes) -> None:
    out = tmp_path / "feed.jsonl"
    assert demo_feed.main(["--seed", "7", "--out", str(out)]) == 0
    assert out.read_bytes() == feed


def test_feed_every_line_decodes_and_timestamps_never_decrease(
    feed: bytes, events: list[PriceTick | VolUpdate | FillReport]
) -> None:
    timestamps = [event.ts_ns for event in events]
    assert len(events) == feed.count(b"\n")
    assert timestamps == sorted(timestamps)
    assert timestamps[0] == SESSION_START_NS
    assert timestamps[-1] < SESSION_START_NS + SESSION_NS
    assert len(feed) < 1_000_000


def test_feed_one_tick_per_second_per_underlying_with_cent_spread(
    events: list[PriceTick | VolUpdate | FillReport],
) -> None:
    ticks = [event for event in events if isinstance(event, PriceTick)]
    assert Counter(tick.symbol for tick in ticks) == {"XYZ": 1800, "ABC": 1800}
    for tick in ticks:
        assert tick.bid is not None
        assert tick.ask is not None
        assert tick.ask - tick.bid == pytest.approx(0.02, abs=1e-9)
        assert (tick.ts_ns - SESSION_START_NS) % 10**9 == 0
    first = {tick.symbol: tick.mark for tick in reversed(ticks)}
    assert first == pytest.approx({"XYZ": 100.0, "ABC": 50.0})


def test_feed_vol_per_underlying_at_start(
    events: list[PriceTick | VolUpdate | FillReport],
) -> None:
    vols = [event for event in events if isinstance(event, VolUpdate)]
    at_start = {vol.symbol: vol.vol for vol in vols if vol.ts_ns == SESSION_START_NS}
    assert at_start == {"XYZ": 0.25, "ABC": 0.35}
    assert all(abs(vol.vol - at_start[vol.symbol]) < 0.05 for vol in vols)


def test_feed_client_trades_are_listed_options_near_spot(
    events: list[PriceTick | VolUpdate | FillReport],
) -> None:
    marks: dict[str, float] = {}
    trades: list[tuple[FillReport, OptionContract, float]] = []
    for event in events:
        if isinstance(event, PriceTick):
            marks[event.symbol] = event.mark
        elif isinstance(event, FillReport):
            contract = parse_occ(event.instrument, event.ts_ns)
            trades.append((event, contract, marks[contract.root]))
    assert [fill.fill_id for fill, _, _ in trades] == [f"C-{n:04d}" for n in range(1, 31)]
    for fill, contract, spot in trades:
        assert fill.book in ("mm-1", "mm-2")
        assert 10 <= fill.qty <= 200
        assert fill.multiplier is None
        assert fill.price > 0
        assert round(fill.price, 2) == fill.price
        assert contract.expiry in (dt.date(2026, 12, 18), dt.date(2027, 1, 15))
        step = 5.0 if contract.root == "XYZ" else 2.5
        assert contract.strike % step == 0
        assert 0.9 * spot - 0.02 <= contract.strike <= 1.1 * spot + 0.02
    assert {contract.is_call for _, contract, _ in trades} == {True, False}
    assert {fill.side for fill, _, _ in trades} == {"buy", "sell"}


def test_feed_client_trades_priced_at_black_scholes_of_current_mark_and_vol(
    events: list[PriceTick | VolUpdate | FillReport],
) -> None:
    marks: dict[str, float] = {}
    vols: dict[str, float] = {}
    checked = 0
    for event in events:
        if isinstance(event, PriceTick):
            marks[event.symbol] = event.mark
        elif isinstance(event, VolUpdate):
            vols[event.symbol] = event.vol
        elif isinstance(event, FillReport):
            contract = parse_occ(event.instrument, event.ts_ns)
            expiry_ns = expiry_instant_ns(
                contract.expiry, DEFAULT_EXPIRY_TIME, ZoneInfo(DEFAULT_EXPIRY_TIMEZONE)
            )
            value = black_scholes(
                marks[contract.root],
                contract.strike,
                year_fraction(event.ts_ns, expiry_ns),
                vols[contract.root],
                0.04,
                0.0,
                contract.is_call,
            ).price
            # The generator prices off the unrounded mid; the tick shows it to a cent.
            assert event.price == pytest.approx(float(value), abs=0.011)
            checked += 1
    assert checked == 30
