"""`ReceiptClock`: ticks judged on the wall clock when handled, and only changes told."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from hedger.adapters.receipt import ReceiptClock
from hedger.core.events import FeedTiming, PriceTick

NOW_MS = 1_800_000_000_000


def record(stamp_ms: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("md.prices", 0, 0, stamp_ms, 0, None, b"", None, 0, 0, [])


def tick(symbol: str = "XYZ", ts_ns: int = 7) -> PriceTick:
    return PriceTick(symbol, ts_ns, 99.0, 101.0, None, 100.0)


def clock(now_ms: list[float]) -> ReceiptClock:
    return ReceiptClock(max_age_ms=2_000, max_skew_ms=1_000, wall_ms=lambda: now_ms[0])


def test_kinds_at_the_limits():
    receipt = clock([NOW_MS])
    assert receipt.kind(record(NOW_MS - 2_000)) is None
    assert receipt.kind(record(NOW_MS - 2_001)) == "late_tick"
    assert receipt.kind(record(NOW_MS + 1_000)) is None
    assert receipt.kind(record(NOW_MS + 1_001)) == "clock_skew"
    assert receipt.kind(record(-1)) is None  # no timestamp


def test_off_at_zero():
    receipt = ReceiptClock(0, 0, wall_ms=lambda: NOW_MS)
    assert receipt.kind(record(0)) is None
    assert receipt.kind(record(NOW_MS * 2)) is None


def test_a_batch_is_judged_alike_only_when_no_tick_of_it_is_judged_otherwise():
    receipt = clock([NOW_MS])
    on_time = [NOW_MS - 2_000, NOW_MS, NOW_MS + 1_000]
    assert receipt.judged_alike(on_time)
    assert receipt.judged_alike([NOW_MS - 9_000, NOW_MS - 2_001])  # all late
    assert not receipt.judged_alike([*on_time, NOW_MS - 2_001])
    assert not receipt.judged_alike([NOW_MS + 1_001, *on_time])
    # Late at one end and ahead at the other, on time between: the ends differ.
    assert not receipt.judged_alike([NOW_MS - 5_000, NOW_MS + 5_000])
    assert not receipt.judged_alike([-1, NOW_MS])  # one without a timestamp


def test_only_a_change_of_judgment_is_told():
    receipt = clock([NOW_MS])
    assert receipt.tell(tick(), record(NOW_MS)) is None  # on time, as assumed
    late = receipt.tell(tick(), record(NOW_MS - 15_000))
    assert isinstance(late, FeedTiming)
    assert (late.symbol, late.problem) == ("XYZ", "late_tick")
    assert "15.0 s old" in late.detail
    assert receipt.tell(tick(), record(NOW_MS - 16_000)) is None  # still late
    back = receipt.tell(tick(), record(NOW_MS))
    assert back == FeedTiming("XYZ", 7, None, "")


def test_after_a_rebuild_each_last_tick_is_judged_at_the_new_now():
    now = [NOW_MS]
    receipt = clock(now)
    receipt.noted(tick("XYZ"), record(NOW_MS))
    receipt.noted(tick("ABC"), record(NOW_MS))
    now[0] = NOW_MS + 3_000  # down for 3 s
    told = receipt.after_rebuild({"XYZ": 70, "ABC": None}.get)
    assert [(t.symbol, t.ts_ns, t.problem) for t in told] == [("XYZ", 70, "late_tick")]
