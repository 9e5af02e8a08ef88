"""The replay schedule and routing, without a broker or a clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from producers.publish import Pacer, due_offset_s, pacing_delays
from producers.replay import BOOTSTRAP_ENV, main
from producers.routing import ReplayTopics, route_line, route_lines

T0 = 1_795_185_000_000_000_000
SECOND_NS = 1_000_000_000
TOPICS = ReplayTopics(prices="p", fills="f")
TICK = b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":99.95,"ask":100.05}' % T0
FILL = (
    b'{"type":"fill","fill_id":"C-1","book":"mm-1","instrument":"XYZ   261218C00100000",'
    b'"side":"buy","qty":10,"price":5.25,"ts":%d}' % T0
)


def test_pacing_delays_sixty_seconds_at_speed_sixty_last_due_after_one_second() -> None:
    timestamps = [T0 + seconds * SECOND_NS for seconds in (0, 15, 30, 60)]
    assert pacing_delays(timestamps, speed=60) == pytest.approx([0.0, 0.25, 0.5, 1.0])


def test_pacing_delays_speed_zero_all_due_immediately() -> None:
    timestamps = [T0 + seconds * SECOND_NS for seconds in (0, 1, 3600)]
    assert pacing_delays(timestamps, speed=0) == [0.0, 0.0, 0.0]


def test_pacing_delays_speed_one_half_event_time_stretched() -> None:
    assert pacing_delays([T0, T0 + 2 * SECOND_NS], speed=0.5) == pytest.approx([0.0, 4.0])


def test_due_offset_earlier_event_time_due_now_not_negative() -> None:
    assert due_offset_s(T0 - 5 * SECOND_NS, T0, speed=1) == 0.0


def test_due_offset_negative_speed_raises() -> None:
    with pytest.raises(ValueError, match="speed"):
        due_offset_s(T0, T0, speed=-1)


def test_pacer_late_wakeup_measures_from_start_without_drift() -> None:
    pacer = Pacer(speed=1.0, wall_start_s=1000.0)
    assert pacer.delay_s(T0, now_s=1000.0) == 0.0
    assert pacer.delay_s(T0 + SECOND_NS, now_s=1000.7) == pytest.approx(0.3)
    # Woke 0.5 s late for the second message: the third is still due at start + 2 s.
    assert pacer.delay_s(T0 + 2 * SECOND_NS, now_s=1001.5) == pytest.approx(0.5)
    assert pacer.delay_s(T0 + 3 * SECOND_NS, now_s=1004.0) == 0.0


def test_pacer_first_timestamp_anchors_schedule_at_wall_start() -> None:
    pacer = Pacer(speed=10.0, wall_start_s=50.0)
    assert pacer.delay_s(T0 + 7 * SECOND_NS, now_s=50.0) == 0.0
    assert pacer.delay_s(T0 + 17 * SECOND_NS, now_s=50.0) == pytest.approx(1.0)


def test_pacer_line_without_timestamp_due_immediately() -> None:
    pacer = Pacer(speed=1.0, wall_start_s=0.0, first_ts_ns=T0)
    assert pacer.delay_s(None, now_s=0.0) == 0.0


def test_route_line_tick_goes_to_prices_keyed_by_symbol_with_original_bytes() -> None:
    raw = b'{"type":"tick", "symbol":"XYZ", "ts":%d, "bid":99.95, "ask":100.05, "x":1}' % T0
    routed = route_line(raw + b"\n", 3, TOPICS)
    assert (routed.topic, routed.key, routed.value) == ("p", b"XYZ", raw)
    assert (routed.line_number, routed.ts_ns, routed.error) == (3, T0, None)


def test_route_line_vol_and_quote_go_to_prices_keyed_by_symbol() -> None:
    vol = route_line(b'{"type":"vol","symbol":"ABC","ts":%d,"vol":0.35}' % T0, 1, TOPICS)
    quote = route_line(
        b'{"type":"quote","symbol":"XYZ   261218C00100000","ts":%d,"bid":5,"ask":5.2}' % T0,
        2,
        TOPICS,
    )
    assert (vol.topic, vol.key, vol.error) == ("p", b"ABC", None)
    assert (quote.topic, quote.key, quote.error) == ("p", b"XYZ   261218C00100000", None)


def test_route_line_fill_goes_to_fills_keyed_by_book() -> None:
    routed = route_line(FILL, 1, TOPICS)
    assert (routed.topic, routed.key, routed.value, routed.error) == ("f", b"mm-1", FILL, None)


def test_route_line_quote_without_timestamp_is_invalid() -> None:
    routed = route_line(b'{"type":"quote","symbol":"XYZ   261218C00100000"}', 1, TOPICS)
    assert routed.error is not None
    assert "ts" in routed.error


def test_route_lines_invalid_lines_carry_line_numbers_and_reasons() -> None:
    lines = [
        TICK + b"\n",
        b"not json\n",
        b'{"type":"tick","symbol":"XYZ","ts":%d,"bid":101,"ask":100}\n' % T0,
        b"\n",
        b'{"type":"trade","symbol":"XYZ","ts":%d}\n' % T0,
        FILL.replace(b'"qty":10', b'"qty":-10') + b"\n",
        FILL + b"\n",
    ]
    routed = list(route_lines(lines, TOPICS))
    errors = {line.line_number: line.error for line in routed if line.error is not None}
    assert [line.line_number for line in routed] == [1, 2, 3, 5, 6, 7]
    assert sorted(errors) == [2, 3, 5, 6]
    assert errors[2].startswith("not_json")
    assert errors[3].startswith("crossed_quote")
    assert errors[5].startswith("unknown_type")
    assert "qty" in errors[6]


def test_route_lines_invalid_fill_still_routed_to_fills_and_other_invalid_to_prices() -> None:
    bad_fill, garbage = list(
        route_lines([FILL.replace(b'"side":"buy"', b'"side":"hold"'), b"[1,2]"], TOPICS)
    )
    assert (bad_fill.topic, bad_fill.key) == ("f", b"mm-1")
    assert (garbage.topic, garbage.key) == ("p", None)
    assert bad_fill.error is not None
    assert garbage.error is not None


def test_main_without_bootstrap_refuses_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BOOTSTRAP_ENV, raising=False)
    with pytest.raises(SystemExit, match=BOOTSTRAP_ENV):
        main(["recording.jsonl", "--speed", "0"])


def test_main_missing_recording_refuses_before_connecting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The bootstrap points nowhere: reaching the broker would fail differently.
    monkeypatch.setenv(BOOTSTRAP_ENV, "127.0.0.1:1")
    with pytest.raises(SystemExit, match="no recording"):
        main([str(tmp_path / "absent.jsonl")])
