"""When a snapshot is due (`SnapshotSchedule`): once the interval has passed and the state
moved; after a rebuild, as soon as the inputs are caught up, not in the middle of the
catch-up that follows it (unless that outlasts the interval)."""

from __future__ import annotations

from hedger.adapters.snapshots import SnapshotSchedule

INTERVAL_S = 300.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_after_a_rebuild_one_is_due_once_caught_up_not_while_catching_up() -> None:
    clock = Clock()
    schedule = SnapshotSchedule(INTERVAL_S, clock)
    schedule.rebuilt()
    clock.now += 1.0
    assert not schedule.due(catching_up=True)
    assert schedule.due(catching_up=False)


def test_a_catch_up_longer_than_the_interval_gets_its_snapshot_on_the_way() -> None:
    clock = Clock()
    schedule = SnapshotSchedule(INTERVAL_S, clock)
    schedule.rebuilt()
    clock.now += INTERVAL_S - 1.0
    assert not schedule.due(catching_up=True)
    clock.now += 1.0
    assert schedule.due(catching_up=True)


def test_once_written_the_next_waits_for_the_interval_and_a_move() -> None:
    clock = Clock()
    schedule = SnapshotSchedule(INTERVAL_S, clock)
    schedule.rebuilt()
    schedule.written()
    schedule.moved()
    clock.now += INTERVAL_S - 1.0
    assert not schedule.due(catching_up=False)
    clock.now += 1.0
    assert schedule.due(catching_up=False)
    schedule.written()
    clock.now += INTERVAL_S
    assert not schedule.due(catching_up=False)  # the state has not moved since


def test_a_failed_write_after_a_rebuild_is_tried_again_after_the_interval() -> None:
    clock = Clock()
    schedule = SnapshotSchedule(INTERVAL_S, clock)
    schedule.rebuilt()
    schedule.failed()
    assert not schedule.due(catching_up=False)
    clock.now += INTERVAL_S
    assert schedule.due(catching_up=False)


def test_no_interval_no_snapshots() -> None:
    schedule = SnapshotSchedule(0.0, Clock())
    schedule.rebuilt()
    assert not schedule.due(catching_up=False)
