"""EventDriver: the order in which the live service and the backtest hand inputs over."""

from __future__ import annotations

from collections.abc import Sequence

from hedger.codec import DecodeError
from hedger.core.actions import Action
from hedger.core.driver import EventDriver
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import Event, FillReport, PriceTick, RecoveryCompleted, Side, TimerFired
from hedger.core.policy import BandPolicy

SECOND = 1_000_000_000
T0 = 1_795_185_000 * SECOND
HOUR = 3_600 * SECOND


class SeenEngine(HedgeEngine):
    """A real engine that notes each event it handles, in order: handed to `handle`, or
    taken by `handle_ticks` (in one pass, or one at a time)."""

    def __init__(self, config: EngineConfig) -> None:
        super().__init__(config)
        self.seen: list[Event] = []
        self._in_run = False

    def handle(self, event: Event) -> list[Action]:
        if not self._in_run:
            self.seen.append(event)
        return super().handle(event)

    def handle_ticks(
        self, ticks: Sequence[PriceTick], start: int = 0, stop: int | None = None
    ) -> tuple[int, list[Action]]:
        self._in_run = True
        try:
            end, actions = super().handle_ticks(ticks, start, stop)
        finally:
            self._in_run = False
        self.seen += ticks[start:end]
        return end, actions


def engine() -> SeenEngine:
    seen = SeenEngine(EngineConfig(policy=BandPolicy(band_shares=1e9), pnl_interval_ns=HOUR))
    seen.handle(RecoveryCompleted(T0))
    seen.seen.clear()
    return seen


def tick(at_s: float, symbol: str = "ABC", mark: float = 100.0) -> PriceTick:
    return PriceTick(symbol, T0 + round(at_s * SECOND), mark - 0.01, mark + 0.01, None, mark)


def fill(at_s: float) -> FillReport:
    return FillReport("f1", "mm-1", "ABC", Side.BUY, 100, 100.0, T0 + round(at_s * SECOND))


def drive(driver: EventDriver, events: list[Event]) -> list[int]:
    """Step through `events`; the index each step ended at."""
    ends, index = [], 0
    while index < len(events):
        index = driver.step(events, index).end
        ends.append(index)
    return ends


def test_a_timer_is_handled_before_the_input_that_crosses_it() -> None:
    seen = engine()
    driver = EventDriver(seen, SECOND)
    events: list[Event] = [tick(0.2), fill(0.7), fill(1.3), tick(2.5)]
    steps = [driver.step(events, index) for index in range(len(events))]
    assert [step.timer.ts_ns if step.timer else None for step in steps] == [
        None,  # the first input only starts the clock
        None,
        T0 + SECOND,
        T0 + 2 * SECOND,
    ]
    timers = [TimerFired(T0 + SECOND), TimerFired(T0 + 2 * SECOND)]
    assert seen.seen[-4:] == [timers[0], events[2], timers[1], events[3]]


def test_a_run_of_ticks_ends_before_the_tick_a_timer_is_due_at() -> None:
    driver = EventDriver(engine(), SECOND)
    ticks: list[Event] = [tick(at_s) for at_s in (0.1, 0.4, 0.9, 1.0, 1.5, 1.99, 2.0, 2.2)]
    runs = []
    for start in (0, 3, 6):
        # As `step` does: the timer the run's first tick crosses fires before the run.
        fired = driver.fire_timer(ticks[start].ts_ns)
        runs.append((fired and fired.ts_ns, driver.run_end(ticks, start)))
    assert runs == [(None, 3), (T0 + SECOND, 6), (T0 + 2 * SECOND, 8)]


def test_a_run_ends_at_another_underlying_another_input_and_before_ns() -> None:
    driver = EventDriver(engine(), 0)
    events: list[Event] = [
        tick(0.1),
        tick(0.2),
        tick(0.3, "XYZ"),
        tick(0.4, "XYZ"),
        fill(0.5),
        tick(0.6),
        tick(0.7),
        tick(0.8),
    ]
    assert [driver.run_end(events, start) for start in (0, 2, 5)] == [2, 4, 8]
    # The backtest's next exchange fill at 0.75 s ends the last run before it.
    assert driver.run_end(events, 5, before_ns=T0 + 750_000_000) == 7


def test_a_step_hands_over_no_tick_past_its_run() -> None:
    seen = engine()
    driver = EventDriver(seen, 0)
    events: list[Event] = [tick(0.1), tick(0.2), fill(0.3), tick(0.4)]
    index = 0
    while index < 2:
        index = driver.step(events, index).end
    assert index == 2
    assert driver.step(events, 2).end == 3  # the fill, on its own
    assert seen.seen[-1] == events[2]


def test_a_run_ends_where_the_shell_says_a_tick_does_not_join() -> None:
    driver = EventDriver(engine(), 0)
    ticks: list[Event] = [tick(0.1 * n) for n in range(1, 7)]
    assert driver.run_end(ticks, 0, joins=lambda index: index != 4) == 4
    assert driver.run_end(ticks, 4, joins=lambda index: True) == 6


def test_a_run_found_once_is_scanned_again_when_something_new_is_due() -> None:
    driver = EventDriver(engine(), 0)
    ticks: list[Event] = [tick(0.1 * n) for n in range(1, 9)]
    assert driver.run_end(ticks, 0) == 8
    assert driver.run_end(ticks, 2, before_ns=T0 + 450_000_000) == 4
    assert driver.run_end(ticks[:5], 2) == 5  # another list of inputs


def test_no_timer_interval_means_no_timers() -> None:
    seen = engine()
    driver = EventDriver(seen, 0)
    drive(driver, [tick(0.5), fill(3_600.0), tick(7_200.0)])
    assert not any(isinstance(event, TimerFired) for event in seen.seen)


def test_a_run_in_a_batch_holding_unreadable_records_stops_before_them() -> None:
    """The live service hands the driver its whole batch: an unreadable record (no time)
    may follow a run of ticks, and nothing may read past the run into it."""
    driver = EventDriver(engine(), SECOND)
    batch: list[object] = [tick(0.1), tick(0.2), DecodeError("malformed", "not JSON"), tick(0.4)]
    index = 0
    while index < 2:
        index = driver.step(batch, index).end
    assert index == 2
