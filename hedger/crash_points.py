"""Fault injection for the crash-point tests: `HEDGER_CRASH_AT=<point>:<n>` makes `hedger
run` SIGKILL itself the n-th time a batch holding a hedge order reaches `<point>`:

- `decided`: the engine has decided the order, nothing of it is sent;
- `sent`: the batch's records are queued on the producer, not acknowledged;
- `acknowledged`: the broker has acknowledged them, the batch is not committed.

`<point>:<n>:freeze` SIGSTOPs it there instead: a process frozen mid-batch (a long GC
pause, a stopped VM) that a test resumes with SIGCONT once its books have moved on, a
zombie. Off (the default) it costs a comparison per batch with an order. A process that
kills itself is what a supervisor sees of a crash, at a point a test names instead of a
point a timer happens to hit (a batch spends most of its time outside the last two).
"""

from __future__ import annotations

import os
import signal

POINTS = ("decided", "sent", "acknowledged")
_SIGNALS = {"": signal.SIGKILL, "freeze": signal.SIGSTOP}


def parse_crash_at(spec: str) -> tuple[str, int, signal.Signals] | None:
    """("sent", 3, SIGKILL) from "sent:3"; None from ""; ValueError for anything else."""
    if not spec:
        return None
    point, _, rest = spec.partition(":")
    count, _, action = rest.partition(":")
    if point not in POINTS or not count.isdigit() or int(count) < 1 or action not in _SIGNALS:
        raise ValueError(f"{spec!r} is not <{'|'.join(POINTS)}>:<n>[:freeze], n >= 1")
    return point, int(count), _SIGNALS[action]


class CrashPoints:
    def __init__(self, spec: str) -> None:
        parsed = parse_crash_at(spec)
        self._point, self._left, self._signal = parsed or ("", 0, signal.SIGKILL)

    def reached(self, point: str) -> None:
        """A batch holding a hedge order is at `point`: stop here if this is the n-th time."""
        if point == self._point:
            self._left -= 1
            if self._left == 0:
                os.kill(os.getpid(), self._signal)
