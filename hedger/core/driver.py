"""The one order in which inputs reach the engine, live and in the backtest.

Both shells hand their inputs, in event-time order, to `EventDriver.step`; they differ only
in where the inputs come from (Kafka through the event-time merge, or a recording and the
in-process paper exchange) and where the actions go (the order topic, or the exchange).
The rules, kept here once:

* **Timers before the input that crosses them.** Before an input at time t, the event-time
  timer (`hedger.core.clock`) fires a `TimerFired` at the latest grid point crossed since
  the last one, and the engine handles it first: timed rebalancing sees the state as of
  the grid point, not as of the input past it. The first input only starts the clock.
* **Runs of ticks.** Consecutive ticks of one underlying, with no timer due among them and
  nothing else due before them (`before_ns`: the backtest's next exchange fill), go to
  `HedgeEngine.handle_ticks` up to the first tick with actions (but refusals within the
  minimum interval): the same results as one at a time, the steady ones in one pass. A
  shell may end a run sooner (`joins`): the live service ends it where the wall-clock
  judgment of its ticks changes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple, cast

from hedger.core.actions import Action
from hedger.core.clock import EventTimer
from hedger.core.engine import HedgeEngine
from hedger.core.events import Event, PriceTick


class TimerStep(NamedTuple):
    ts_ns: int  # the grid point it fired at
    actions: list[Action]


class Step(NamedTuple):
    """What one `EventDriver.step` did: the timer it fired first, if any, the index after
    the inputs handled, and the actions of the last of them."""

    timer: TimerStep | None
    end: int
    actions: list[Action]


class EventDriver:
    def __init__(self, engine: HedgeEngine, timer_interval_ns: int) -> None:
        """`timer_interval_ns` 0: no timers (a backtest that asks for none)."""
        self.engine = engine  # the live service swaps it for the one each rebuild makes
        self._timer = EventTimer(timer_interval_ns) if timer_interval_ns else None
        # The run found last, kept while nothing new is due: the engine hands a run back at
        # each tick with actions, and it is not scanned again for each.
        self._run: tuple[Sequence[Event | object], str, float, int] | None = None

    def fire_timer(self, ts_ns: int) -> TimerStep | None:
        """The timer an input at `ts_ns` crosses, handled; None when none is due (a second
        call for the same input fires nothing)."""
        fired = self._timer.advance(ts_ns) if self._timer is not None else None
        if fired is None:
            return None
        return TimerStep(fired.ts_ns, self.engine.handle(fired))

    def step(
        self,
        inputs: Sequence[Event | object],
        start: int,
        before_ns: float = math.inf,
        joins: Callable[[int], bool] | None = None,
    ) -> Step:
        """Handle ``inputs[start]`` (an `Event`), after the timer it crosses; a tick with
        the rest of its run (see `run_end`) up to the first tick with actions (but refusals
        within the minimum interval, which it returns with them, in order)."""
        event = cast(Event, inputs[start])
        timer = self.fire_timer(event.ts_ns)
        if type(event) is not PriceTick:
            return Step(timer, start + 1, self.engine.handle(event))
        stop = self.run_end(inputs, start, before_ns, joins)
        end, actions = self.engine.handle_ticks(cast("list[PriceTick]", inputs), start, stop)
        return Step(timer, end, actions)

    def run_end(
        self,
        inputs: Sequence[Event | object],
        start: int,
        before_ns: float = math.inf,
        joins: Callable[[int], bool] | None = None,
    ) -> int:
        """The end of the run of ticks from ``inputs[start]`` (a tick): the same underlying,
        before the next timer and `before_ns`, and each tick one that `joins` (by index)."""
        symbol = cast(PriceTick, inputs[start]).symbol
        bound = min(before_ns, self._timer.next_ns if self._timer is not None else math.inf)
        run = self._run
        if run is not None and run[0] is inputs and run[1:3] == (symbol, bound) and start < run[3]:
            return run[3]
        end = len(inputs)
        for index in range(start + 1, end):  # a `for`: a catch-up looks at every tick here
            event = inputs[index]
            if (
                type(event) is not PriceTick
                or event.symbol != symbol
                or event.ts_ns >= bound
                or (joins is not None and not joins(index))
            ):
                end = index
                break
        self._run = (inputs, symbol, bound, end)
        return end
