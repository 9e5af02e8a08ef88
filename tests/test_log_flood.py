"""RepeatLimiter: a flood of one message kind becomes one line per interval, with a count."""

from __future__ import annotations

import logging

from hedger.log_flood import RepeatLimiter


def record(
    msg: str, *args: object, level: int = logging.ERROR, name: str = "aiokafka.conn"
) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_flood_of_one_kind_passes_once_an_interval_and_then_counts_the_rest():
    clock = Clock()
    limiter = RepeatLimiter("aiokafka", interval_s=10.0, clock=clock)
    passed = []
    for index in range(156 * 25):  # 25 s of aiokafka's flood while the broker is gone
        clock.now = index / 156
        line = record("Unable connect to %r: %r", "127.0.0.1:9092", "refused")
        if limiter.filter(line):
            passed.append(line.getMessage())
    assert len(passed) == 3  # at 0 s, 10 s, 20 s
    assert passed[0] == "Unable connect to '127.0.0.1:9092': 'refused'"
    assert passed[1] == (
        "Unable connect to '127.0.0.1:9092': 'refused' [1559 more like this in 10 s]"
    )


def test_other_kinds_and_levels_pass_on_their_own():
    limiter = RepeatLimiter("aiokafka", interval_s=10.0, clock=Clock())
    assert limiter.filter(record("fetch failed: %s", "x"))
    assert limiter.filter(record("metadata failed: %s", "x"))
    assert limiter.filter(record("fetch failed: %s", "x", level=logging.WARNING))
    assert not limiter.filter(record("fetch failed: %s", "y"))


def test_records_of_other_loggers_always_pass():
    limiter = RepeatLimiter("aiokafka", interval_s=10.0, clock=Clock())
    for _ in range(3):
        assert limiter.filter(record("dead-lettered %s", "x", name="hedger.adapters.outbox"))
