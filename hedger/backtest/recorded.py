"""Recorded feeds as engine events, read like `producers.replay` reads them.

Files are read with the same options (formats, column mapping, timestamps, time window)
and merged in event time like the replayer merges them, so the backtest sees the order the
live service would be sent. Messages the codec refuses are reported and skipped; a file
none of whose messages could be read is an error. Option quotes, which the engine does
not take, are skipped.
"""

from __future__ import annotations

import bisect
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

from hedger.codec import DecodeError, decode_fill, decode_price
from hedger.core.events import Event
from producers.replay import ReadWith, recorded_lines
from producers.routing import ReplayTopics, TimeWindow


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def recorded_events(
    paths: Sequence[Path],
    read_options: ReadWith = None,
    window: TimeWindow | None = None,
    report: Callable[[str], None] = _to_stderr,
) -> list[Event]:
    """Every usable event of the recordings, in replay order."""
    topics = ReplayTopics()
    events: list[Event] = []
    read: Counter[str] = Counter()
    refused: dict[str, str] = {}  # per source, its first refusal
    for line in recorded_lines(paths, topics, read_options, window):
        if line.error is not None:
            report(f"{line.source}:{line.line_number}: {line.error} (skipped)")
            refused.setdefault(line.source, line.error)
            continue
        read[line.source] += 1
        try:
            if line.topic == topics.fills:
                events.append(decode_fill(line.value))
            else:
                events.append(decode_price(line.value))
        except DecodeError:
            continue  # an option quote: valid on the wire, not an engine event
    unread = [source for source in refused if not read[source]]
    if unread:
        # Every message of a file refused is a file read the wrong way (its reading
        # options, most often), not a market with nothing in it: a backtest of the rest
        # would report all-zero results as if they were findings.
        source = unread[0]
        raise ValueError(
            f"nothing in {source} could be read (first: {refused[source]}); check the"
            " reading options it was read with (-i FILE takes only those before it)"
        )
    return events


def split_windows(events: Sequence[Event], length_ns: int) -> list[tuple[int, int, int, int]]:
    """Consecutive windows `length_ns` long from the first event's time, [start, end), as
    (start_ns, end_ns, first, stop): `events[first:stop]` fall in it. `events` in time
    order; a window with no event is left out."""
    if length_ns <= 0:
        raise ValueError("a window must be longer than nothing")
    times = [event.ts_ns for event in events]
    windows = []
    first = 0
    while first < len(times):
        start = times[0] + (times[first] - times[0]) // length_ns * length_ns
        stop = bisect.bisect_left(times, start + length_ns, lo=first)
        windows.append((start, start + length_ns, first, stop))
        first = stop
    return windows
