"""Bounding a library's log flood: while the broker is gone aiokafka logs each failed
connection and fetch, about 156 lines a second; one line per message kind every
`interval_s` says as much, with a count of the lines it stood for."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class RepeatLimiter(logging.Filter):
    """For records of the logger `name` and its children: passes one whose message
    template (and level) has not passed in the last `interval_s`; drops and counts the
    others, and the next one passed says how many. A handler's filter, since a logger's
    own filters do not see its children's records."""

    def __init__(
        self, name: str, interval_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(name)
        self._interval_s = interval_s
        self._clock = clock
        self._passed: dict[tuple[int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not super().filter(record):
            return True  # another logger's: not limited
        key = (record.levelno, str(record.msg))
        now = self._clock()
        passed = self._passed.get(key)
        if passed is not None and now - passed[0] < self._interval_s:
            self._passed[key] = (passed[0], passed[1] + 1)
            return False
        if passed is not None and passed[1]:
            # The note holds no "%": the template still formats with the record's args.
            record.msg = f"{record.msg} [{passed[1]} more like this in {now - passed[0]:.0f} s]"
        self._passed[key] = (now, 0)
        return True
