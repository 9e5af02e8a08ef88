"""Reading recordings: JSONL as is, CSV and Parquet through a vendor column mapping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hedger.codec import decode_fill, decode_price
from hedger.core.events import PriceTick, Side, VolUpdate
from producers.recording import ReadOptions, count_rows, detect_format, read_recording

T0_S = int(dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC).timestamp())
T0_NS = T0_S * 10**9
VENDOR = ReadOptions(
    mapping={"symbol": "ric", "ts": "time", "bid": "bid_px", "ask": "ask_px", "vol": "iv"},
    ts_unit="ms",
)


def messages(path: Path, options: ReadOptions | None = None) -> list[dict[str, object]]:
    return [orjson.loads(line.value) for line in read_recording(path, options)]


def test_read_recording_wire_jsonl_passes_bytes_through_with_line_numbers(tmp_path: Path) -> None:
    tick = b'{"type":"tick", "symbol":"XYZ", "ts":%d, "bid":99.95, "ask":100.05}' % T0_NS
    path = tmp_path / "feed.jsonl"
    path.write_bytes(tick + b"\r\n\n" + b"garbage\n")
    lines = list(read_recording(path))
    assert [(line.number, line.value, line.error) for line in lines] == [
        (1, tick, None),
        (3, b"garbage", None),  # refused later, by the codec, with the hedger's reason
    ]


def test_read_recording_vendor_csv_mapped_to_ticks_and_vols(tmp_path: Path) -> None:
    path = tmp_path / "vendor.csv"
    path.write_text(
        "ric,time,bid_px,ask_px,iv\n"
        f"XYZ,{T0_S * 1000},99.95,100.05,0.25\n"
        f"XYZ,{T0_S * 1000 + 1500},99.96,100.06,\n"
    )
    assert messages(path, VENDOR) == [
        {"type": "tick", "symbol": "XYZ", "ts": T0_NS, "bid": 99.95, "ask": 100.05},
        {"type": "vol", "symbol": "XYZ", "ts": T0_NS, "vol": 0.25},
        {"type": "tick", "symbol": "XYZ", "ts": T0_NS + 1_500_000_000, "bid": 99.96, "ask": 100.06},
    ]
    first, vol = (decode_price(line.value) for line in list(read_recording(path, VENDOR))[:2])
    assert isinstance(first, PriceTick)
    assert first.mark == pytest.approx(100.0)
    assert isinstance(vol, VolUpdate)


def test_read_recording_csv_line_numbers_count_the_header(tmp_path: Path) -> None:
    path = tmp_path / "quotes.csv"
    path.write_text(f"symbol,ts,last\nXYZ,{T0_NS},100\nXYZ,,101\n")
    lines = list(read_recording(path))
    assert [line.number for line in lines] == [2, 3]
    assert lines[0].error is None
    assert lines[1].error is not None
    assert "no timestamp" in lines[1].error


def test_read_recording_iso_times_in_new_york_with_default_symbol(tmp_path: Path) -> None:
    path = tmp_path / "one_symbol.csv"
    path.write_text("time,last\n2026-11-20 09:30:00.5,100.25\n")
    options = ReadOptions(mapping={"ts": "time"}, timezone="America/New_York", default_symbol="XYZ")
    assert messages(path, options) == [
        {"type": "tick", "symbol": "XYZ", "ts": T0_NS + 500_000_000, "last": 100.25}
    ]


def test_read_recording_fills_csv_becomes_fill_messages_the_codec_accepts(tmp_path: Path) -> None:
    path = tmp_path / "fills.csv"
    path.write_text(
        "fill_id,book,instrument,side,qty,price,ts,fee\n"
        f"C-1,mm-1,XYZ   261218C00100000,buy,10,5.25,{T0_NS},1.5\n"
    )
    (line,) = read_recording(path)
    fill = decode_fill(line.value)
    assert (fill.fill_id, fill.book, fill.side, fill.qty, fill.price) == (
        "C-1",
        "mm-1",
        Side.BUY,
        10,
        5.25,
    )
    assert (fill.ts_ns, fill.fee) == (T0_NS, 1.5)


def test_read_recording_text_price_left_for_codec_to_refuse(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(f"symbol,ts,bid,ask\nXYZ,{T0_NS},n/a,100.05\n")
    (line,) = read_recording(path)
    assert orjson.loads(line.value)["bid"] == "n/a"
    with pytest.raises(ValueError, match="'bid' must be a number"):
        decode_price(line.value)


def test_read_recording_row_with_nothing_to_send_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text(f"symbol,ts,volume\nXYZ,{T0_NS},300\n")
    (line,) = read_recording(path)
    assert line.error is not None
    assert "no bid, ask, last, vol or fill_id" in line.error
    assert orjson.loads(line.value) == {"symbol": "XYZ", "ts": str(T0_NS), "volume": "300"}


def test_read_recording_parquet_typed_timestamps_aware_and_naive(tmp_path: Path) -> None:
    aware = dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC)
    naive = dt.datetime(2026, 11, 20, 9, 30, 1)  # New York wall time, one second later
    table = pa.table(
        {
            "ric": ["XYZ", "XYZ"],
            "time": pa.array([aware, aware + dt.timedelta(seconds=2)], pa.timestamp("ns", "UTC")),
            "local": pa.array([naive, naive], pa.timestamp("us")),
            "bid_px": [99.95, 99.96],
            "ask_px": [100.05, 100.06],
        }
    )
    path = tmp_path / "vendor.parquet"
    pq.write_table(table, path)
    by_time = ReadOptions(mapping={"symbol": "ric", "ts": "time", "bid": "bid_px", "ask": "ask_px"})
    assert [m["ts"] for m in messages(path, by_time)] == [T0_NS, T0_NS + 2 * 10**9]
    by_local = ReadOptions(
        mapping={"symbol": "ric", "ts": "local", "bid": "bid_px", "ask": "ask_px"},
        ts_unit="s",  # ignored for typed timestamps: they carry their own unit
        timezone="America/New_York",
    )
    assert [m["ts"] for m in messages(path, by_local)] == [T0_NS + 10**9] * 2
    assert count_rows(path, by_time) == 2


def test_read_recording_parquet_epoch_ints_and_nulls(tmp_path: Path) -> None:
    table = pa.table(
        {
            "symbol": ["XYZ", "XYZ"],
            "ts": pa.array([T0_S * 10**6, T0_S * 10**6 + 1], pa.int64()),
            "last": [100.5, None],
            "vol": [None, 0.3],
        }
    )
    path = tmp_path / "ints.parquet"
    pq.write_table(table, path)
    options = ReadOptions(ts_unit="us")
    assert messages(path, options) == [
        {"type": "tick", "symbol": "XYZ", "ts": T0_NS, "last": 100.5},
        {"type": "vol", "symbol": "XYZ", "ts": T0_NS + 1_000, "vol": 0.3},
    ]


def test_count_rows_text_files_count_lines_less_csv_header(tmp_path: Path) -> None:
    csv_path, jsonl_path = tmp_path / "a.csv", tmp_path / "a.jsonl"
    csv_path.write_text("symbol,ts,last\nXYZ,1,2\nXYZ,2,3\n")
    jsonl_path.write_text("{}\n{}\n{}\n")
    assert count_rows(csv_path, ReadOptions()) == 2
    assert count_rows(jsonl_path, ReadOptions()) == 3


def test_detect_format_unknown_suffix_raises_and_override_wins(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot tell the format"):
        detect_format(tmp_path / "feed.txt")
    assert detect_format(tmp_path / "feed.txt", "csv") == "csv"
    assert detect_format(tmp_path / "feed.NDJSON") == "jsonl"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"mapping": {"price_level": "x"}}, "cannot map"),
        ({"ts_unit": "fortnights"}, "time unit"),
        ({"timezone": "Nowhere/City"}, "unknown time zone"),
        ({"file_format": "xlsx"}, "format"),
    ],
)
def test_read_options_invalid_raise(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReadOptions(**options)  # type: ignore[arg-type]
