"""An event's time held to its record's Kafka timestamp, as a catch-up decodes a fetched
partition (`InputStreams._timed`, per record, inlined) and as a rebuild decodes one record
(`InputStreams.decode`): the same verdicts, limits taken exactly. No broker: nothing here
connects."""

from __future__ import annotations

import time

import pytest
from aiokafka.structs import ConsumerRecord

from hedger.adapters.inputs import InputStreams
from hedger.codec import DecodeError, encode_tick
from hedger.config import Settings
from hedger.core.events import PriceTick

_STAMP_MS = 1_772_463_600_000  # the record's Kafka timestamp
_SECOND_NS = 1_000_000_000


def _record(offset: int, event_ns: int, stamp_ms: int = _STAMP_MS) -> ConsumerRecord[bytes, bytes]:
    tick = PriceTick("XYZ", event_ns, 99.99, 100.01, None, 100.0)
    value = encode_tick(tick)
    return ConsumerRecord("prices", 0, offset, stamp_ms, 0, b"XYZ", value, None, 3, len(value), [])


def _streams(ahead_s: float, behind_s: float) -> InputStreams:
    settings = Settings(
        kafka_bootstrap="localhost:1",
        prices_topic="prices",
        max_event_ahead_s=ahead_s,
        max_event_behind_s=behind_s,
    )
    return InputStreams(settings, time.monotonic)


def _verdict(decoded: object) -> str:
    return decoded.kind if isinstance(decoded, DecodeError) else "ok"


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
    streams = _streams(ahead_s=300, behind_s=60)
    record = _record(7, _STAMP_MS * 1_000_000 + offset_ns)
    [(event_ns, (timed_record, decoded))] = streams._timed("prices", [record])
    assert timed_record is record
    assert _verdict(decoded) == expected
    assert _verdict(streams.decode(record)) == expected
    # A refused record has no event time of its own: the merge gives it its neighbour's.
    assert (event_ns is None) == (expected != "ok")


def test_the_refusal_says_how_far_and_which_setting() -> None:
    streams = _streams(ahead_s=300, behind_s=60)
    ahead = streams.decode(_record(1, (_STAMP_MS + 400_000) * 1_000_000))
    behind = streams.decode(_record(2, (_STAMP_MS - 90_000) * 1_000_000))
    assert isinstance(ahead, DecodeError)
    assert isinstance(behind, DecodeError)
    assert ahead.detail == (
        "event time 400 s after the record's Kafka timestamp (HEDGER_MAX_EVENT_AHEAD_S=300)"
    )
    assert behind.detail == (
        "event time 90 s before the record's Kafka timestamp (HEDGER_MAX_EVENT_BEHIND_S=60)"
    )


def test_no_limit_when_a_setting_is_zero_and_none_without_a_timestamp() -> None:
    unlimited = _streams(ahead_s=0, behind_s=0)
    far = [_record(1, 1), _record(2, 2**62)]
    assert [_verdict(d) for _, (_, d) in unlimited._timed("prices", far)] == ["ok", "ok"]
    limited = _streams(ahead_s=1, behind_s=1)
    unstamped = _record(3, 2**62, stamp_ms=-1)
    assert _verdict(limited.decode(unstamped)) == "ok"
    assert [_verdict(d) for _, (_, d) in limited._timed("prices", [unstamped])] == ["ok"]
