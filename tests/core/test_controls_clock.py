"""EventTimer: timer events from event time, one per boundary crossed."""

from __future__ import annotations

import pytest

from hedger.core.clock import EventTimer
from hedger.core.events import TimerFired

SECOND = 1_000_000_000
T0 = 1_795_185_000 * SECOND


def test_event_timer_first_input_only_starts_the_clock():
    assert EventTimer(SECOND).advance(T0 + 500_000_000) is None


def test_event_timer_fires_at_each_boundary_crossed_once():
    timer = EventTimer(SECOND)
    timer.advance(T0 + 100)
    assert timer.advance(T0 + 900_000_000) is None
    assert timer.advance(T0 + SECOND + 5) == TimerFired(T0 + SECOND)
    assert timer.advance(T0 + SECOND + 10) is None


def test_event_timer_long_gap_fires_one_timer_at_the_latest_boundary():
    timer = EventTimer(SECOND)
    timer.advance(T0)
    assert timer.advance(T0 + 3_600 * SECOND + 7) == TimerFired(T0 + 3_600 * SECOND)


def test_event_timer_time_going_back_fires_nothing():
    timer = EventTimer(SECOND)
    timer.advance(T0 + 5 * SECOND)
    assert timer.advance(T0 + 2 * SECOND) is None
    assert timer.advance(T0 + 5 * SECOND + 1) is None
    assert timer.advance(T0 + 6 * SECOND) == TimerFired(T0 + 6 * SECOND)


def test_event_timer_replay_of_the_same_inputs_fires_the_same_timers():
    inputs = [T0 + n * 370_000_000 for n in range(40)]
    runs = []
    for _ in range(2):
        timer = EventTimer(SECOND)
        runs.append([timer.advance(ts) for ts in inputs])
    assert runs[0] == runs[1]
    assert sum(fired is not None for fired in runs[0]) == 14  # 14.43 s crossed


def test_event_timer_needs_a_positive_interval():
    with pytest.raises(ValueError, match="positive"):
        EventTimer(0)
