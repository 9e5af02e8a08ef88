"""Recorded feeds as engine events, read like `producers.replay` reads them.

Files are read with the same options (formats, column mapping, timestamps, time window)
and merged in event time like the replayer merges them, so the backtest sees the order the
live service would be sent. Messages the codec refuses are reported and skipped; option
quotes, which the engine does not take, are skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from hedger.codec import DecodeError, decode_fill, decode_price
from hedger.core.events import Event
from producers.recording import ReadOptions
from producers.replay import TimeWindow, recorded_lines
from producers.routing import ReplayTopics


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def recorded_events(
    paths: Sequence[Path],
    read_options: ReadOptions | None = None,
    window: TimeWindow | None = None,
    report: Callable[[str], None] = _to_stderr,
) -> list[Event]:
    """Every usable event of the recordings, in replay order."""
    topics = ReplayTopics()
    events: list[Event] = []
    for line in recorded_lines(paths, topics, read_options, window):
        if line.error is not None:
            report(f"{line.source}:{line.line_number}: {line.error} (skipped)")
            continue
        try:
            if line.topic == topics.fills:
                events.append(decode_fill(line.value))
            else:
                events.append(decode_price(line.value))
        except DecodeError:
            continue  # an option quote: valid on the wire, not an engine event
    return events
