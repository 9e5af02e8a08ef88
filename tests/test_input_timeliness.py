"""An event's time held to its record's Kafka timestamp, as a catch-up decodes a fetched
partition (`InputDecoding.timed`: by list, its times checked by their extremes, or record by
record) and as a rebuild decodes one record (`InputDecoding.decode`): the same verdicts,
limits taken exactly. No broker: nothing here connects."""

from __future__ import annotations

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hedger.adapters.input_decoding import InputDecoding
from hedger.codec import DecodeError, encode_tick
from hedger.config import Settings
from hedger.core.events import PriceTick

_STAMP_MS = 1_772_463_600_000  # the record's Kafka timestamp
_SECOND_NS = 1_000_000_000


def _record(offset: int, event_ns: int, stamp_ms: int = _STAMP_MS) -> ConsumerRecord[bytes, bytes]:
    tick = PriceTick("XYZ", event_ns, 99.99, 100.01, None, 100.0)
    value = encode_tick(tick)
    return ConsumerRecord("prices", 0, offset, stamp_ms, 0, b"XYZ", value, None, 3, len(value), [])


def _decoding(ahead_s: float, behind_s: float) -> InputDecoding:
    settings = Settings(
        kafka_bootstrap="localhost:1",
        prices_topic="prices",
        max_event_ahead_s=ahead_s,
        max_event_behind_s=behind_s,
    )
    return InputDecoding(settings)


def _verdict(decoded: object) -> str:
    return decoded.kind if isinstance(decoded, DecodeError) else "ok"


def _timed(decoding: InputDecoding, records: list[ConsumerRecord[bytes, bytes]]) -> list:
    """(event time, (record, decoded)) per record, as `timed` hands them to the merge."""
    times, decoded = decoding.timed("prices", records)
    return list(zip(times, decoded, strict=True))


@pytest.mark.parametrize(
    ("offset_ns", "expected"),
    [
        (0, "ok"),
        (300 * _SECOND_NS, "ok"),  # exactly at the limit ahead
        (300 * _SECOND_NS + 1, "event_time_ahead"),
        (-60 * _SECOND_NS, "ok"),  # exactly at the limit behind
        (-60 * _SECOND_NS - 1, "event_time_behind"),
        (-3_600 * _SECOND_NS, "event_time_behind"),
    ],
)
def test_a_fetched_partition_and_a_single_record_get_the_same_verdict(
    offset_ns: int, expected: str
) -> None:
    decoding = _decoding(ahead_s=300, behind_s=60)
    record = _record(7, _STAMP_MS * 1_000_000 + offset_ns)
    [(event_ns, (timed_record, decoded))] = _timed(decoding, [record])
    assert timed_record is record
    assert _verdict(decoded) == expected
    assert _verdict(decoding.decode(record)) == expected
    # A refused record has no event time of its own: the merge gives it its neighbour's.
    assert (event_ns is None) == (expected != "ok")


def test_the_refusal_says_how_far_and_which_setting() -> None:
    decoding = _decoding(ahead_s=300, behind_s=60)
    ahead = decoding.decode(_record(1, (_STAMP_MS + 400_000) * 1_000_000))
    behind = decoding.decode(_record(2, (_STAMP_MS - 90_000) * 1_000_000))
    assert isinstance(ahead, DecodeError)
    assert isinstance(behind, DecodeError)
    assert ahead.detail == (
        "event time 400 s after the record's Kafka timestamp (HEDGER_MAX_EVENT_AHEAD_S=300)"
    )
    assert behind.detail == (
        "event time 90 s before the record's Kafka timestamp (HEDGER_MAX_EVENT_BEHIND_S=60)"
    )


def test_no_limit_when_a_setting_is_zero_and_none_without_a_timestamp() -> None:
    unlimited = _decoding(ahead_s=0, behind_s=0)
    far = [_record(1, 1), _record(2, 2**62)]
    assert [_verdict(d) for _, (_, d) in _timed(unlimited, far)] == ["ok", "ok"]
    limited = _decoding(ahead_s=1, behind_s=1)
    unstamped = _record(3, 2**62, stamp_ms=-1)
    assert _verdict(limited.decode(unstamped)) == "ok"
    assert [_verdict(d) for _, (_, d) in _timed(limited, [unstamped])] == ["ok"]


# Records of a fetch: ticks at or just past either limit, without a timestamp, and records
# the fast path cannot vouch for (malformed, a vol update, a crossed quote, too large).
_OFFSETS_NS = [0, 300 * _SECOND_NS, 300 * _SECOND_NS + 1, -60 * _SECOND_NS, -60 * _SECOND_NS - 1]
_OTHER_VALUES = [
    b"not json",
    b'{"type":"vol","symbol":"XYZ","ts":1772463600000000000,"vol":0.2}',
    b'{"type":"tick","symbol":"XYZ","ts":1772463600000000000,"bid":101.0,"ask":100.0}',
    b'{"type":"tick","symbol":"XYZ","ts":1772463600000000000,"last":100.0,"pad":"'
    + b"x" * 70_000
    + b'"}',
]
# A fetch: ticks (mostly all valid, the case decoded by list), and a few other records.
fetched_records = st.tuples(
    # Per tick: its time from its own timestamp, and that timestamp's ms from the others'.
    st.lists(
        st.tuples(st.sampled_from(_OFFSETS_NS), st.integers(-2_000, 2_000)),
        min_size=1,
        max_size=12,
    ),
    st.lists(
        st.tuples(st.integers(0, 12), st.sampled_from([None, *range(len(_OTHER_VALUES))])),
        max_size=2,
    ),
)


@settings(max_examples=300, deadline=None)
@given(fetch=fetched_records)
# A tick past a limit whose own timestamp is not the fetch's extreme one.
@example(fetch=([(0, -5), (-60 * _SECOND_NS - 1, 0)], []))
@example(fetch=([(0, 5), (300 * _SECOND_NS + 1, 0)], []))
def test_a_fetch_decoded_by_list_gets_each_record_its_own_verdict_and_time(fetch) -> None:
    ticks, others = fetch
    decoding = _decoding(ahead_s=300, behind_s=60)
    records = [
        _record(0, (_STAMP_MS + stamp_ms) * 1_000_000 + offset_ns, _STAMP_MS + stamp_ms)
        for offset_ns, stamp_ms in ticks
    ]
    for place, other in others:  # None: a tick without a timestamp
        value = _record(0, _STAMP_MS * 1_000_000).value if other is None else _OTHER_VALUES[other]
        stamp_ms = -1 if other is None else _STAMP_MS
        record = ConsumerRecord("prices", 0, 0, stamp_ms, 0, b"XYZ", value, None, 3, 0, [])
        records.insert(place, record)
    timed = _timed(decoding, records)
    assert [record for _, (record, _) in timed] == records
    for (event_ns, (_, decoded)), record in zip(timed, records, strict=True):
        alone = decoding.decode(record)  # the rebuild's verdict, one record at a time
        assert _verdict(decoded) == _verdict(alone)
        if isinstance(alone, DecodeError):
            assert event_ns is None
            assert isinstance(decoded, DecodeError)
            assert (type(decoded), decoded.kind, decoded.detail) == (
                type(alone),
                alone.kind,
                alone.detail,
            )
        else:
            assert (event_ns, decoded) == (alone.ts_ns, alone)
