"""Merging the price and fill streams in event time.

Prices and fills arrive on separate topics. Handled in arrival order, a replay that floods
both topics at once would book a fill from minute 25 against the market of minute 2. So
records wait in one buffer per stream and leave in event-time order: the stream whose head
is earlier goes first. When a buffer runs dry the other stream may only run ahead if the
dry stream is idle (nothing more waiting on the broker); otherwise the merge waits for the
next fetch. A stream that is idle never holds the other back, so a silent feed cannot stall
fills, and live traffic flows as it arrives.

Within a stream the order of arrival is kept (and so the order of each partition), which is
what makes committing `offset + 1` of the handled prefix safe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Timed(Generic[Item]):
    ts_ns: int
    item: Item


class EventTimeMerge(Generic[Item]):
    def __init__(self, streams: int = 2) -> None:
        self._buffers: list[deque[Timed[Item]]] = [deque() for _ in range(streams)]
        self._last_ts = [0] * streams

    def buffered(self, stream: int) -> int:
        return len(self._buffers[stream])

    def add(self, stream: int, items: Iterable[tuple[int | None, Item]]) -> None:
        """Queue items in arrival order; an item without a time (unreadable input) takes
        the time of the one before it, so it leaves in place."""
        buffer = self._buffers[stream]
        for ts_ns, item in items:
            if ts_ns is not None:
                self._last_ts[stream] = ts_ns
            buffer.append(Timed(self._last_ts[stream], item))

    def pop_ready(self, idle: list[bool], limit: int) -> list[Item]:
        """Up to `limit` items in event-time order, stopping where a busy stream ran dry."""
        ready: list[Item] = []
        while len(ready) < limit:
            heads = [b[0].ts_ns if b else None for b in self._buffers]
            if any(head is None and not idle[s] for s, head in enumerate(heads)):
                break
            candidates = [(head, s) for s, head in enumerate(heads) if head is not None]
            if not candidates:
                break
            _, stream = min(candidates)
            ready.append(self._buffers[stream].popleft().item)
        return ready

    def clear(self, stream: int) -> None:
        self._buffers[stream].clear()
