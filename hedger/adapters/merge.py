"""Merging the price and fill streams, partition by partition, in event time.

Prices and fills arrive on separate topics, each in several partitions. Handled in arrival
order, a replay that floods both topics at once would book a fill from minute 25 against
the market of minute 2, and with several partitions the records of one partition would pass
those of another (a fetch returns them partition by partition): the same inputs would give
other orders on other partition counts. So records wait in one buffer per stream (one
stream per topic partition) and leave in event-time order: the stream whose head is earliest
goes first (ties: the lowest stream key). When a buffer runs dry the others may only run
ahead if the dry stream is idle (nothing more waiting on the broker); otherwise the merge
waits for the next fetch. An idle stream never holds the others back, so a silent feed
cannot stall fills, and live traffic flows as it arrives.

Within a stream the order of arrival is kept (and so the order of its partition), which is
what makes committing `offset + 1` of the handled prefix safe.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container, Mapping
from typing import Generic, TypeVar, cast

Item = TypeVar("Item")
# A stream's key: orderable, since equal times leave in key order.
Key = TypeVar("Key", int, tuple[int, int])
# (event time ns, item): a plain tuple, not a dataclass. Every record of a catch-up passes
# through here, and a frozen dataclass's __init__ cost more than decoding the record.
Timed = tuple[int, Item]


class EventTimeMerge(Generic[Key, Item]):
    def __init__(self) -> None:
        self._buffers: dict[Key, deque[Timed[Item]]] = {}
        self._last_ts: dict[Key, int] = {}
        # Per stream, the last of its items the latest `pop_ready` handed out: where each
        # stream's part of the batch ends, without a look at every item.
        self.last_taken: dict[Key, Item] = {}

    def streams(self) -> list[Key]:
        """The streams that have had items (buffered or not), in key order."""
        return sorted(self._buffers)

    def buffered(self, stream: Key) -> int:
        buffer = self._buffers.get(stream)
        return len(buffer) if buffer is not None else 0

    def add(self, stream: Key, times: list[int | None], items: list[Item]) -> None:
        """Queue `items` in arrival order, at their `times`; an item without a time
        (unreadable input) takes the time of the one before it, so it leaves in place."""
        buffer = self._buffers.setdefault(stream, deque())
        if None not in times:  # the common case, in one call
            buffer.extend(zip(cast("list[int]", times), items, strict=True))
            if times:
                self._last_ts[stream] = cast(int, times[-1])
            return
        last_ts = self._last_ts.get(stream, 0)
        append = buffer.append
        for ts_ns, item in zip(times, items, strict=True):
            if ts_ns is not None:
                last_ts = ts_ns
            append((last_ts, item))
        self._last_ts[stream] = last_ts

    def pop_ready(
        self,
        idle: Mapping[Key, bool],
        limit: int,
        *,
        settled: Mapping[Key, bool] | None = None,
        patient: Container[Key] = (),
    ) -> list[Item]:
        """Up to `limit` items in event-time order, stopping where a busy stream ran dry.

        `idle[key]`: that stream has nothing more waiting on the broker (a stream missing
        from `idle` counts as idle, one in it with no items yet as dry). The items of a
        `patient` stream pass a dry stream only once it is `settled` too (idle for long
        enough that nothing sent before them can still be in flight); by default `idle`.
        """
        settled = idle if settled is None else settled
        keys = sorted(set(idle) | set(self._buffers))
        buffers = [(key, self._buffers.get(key) or deque[Timed[Item]]()) for key in keys]
        ready: list[Item] = []
        self.last_taken = {}
        while len(ready) < limit:
            heads = [(b[0][0], index) for index, (_, b) in enumerate(buffers) if b]
            if not heads:
                break
            first = min(heads)
            key, buffer = buffers[first[1]]
            gate = settled if key in patient else idle
            if any(not b and not gate.get(k, True) for k, b in buffers):
                break
            # The first stream's items leave in a run up to the next stream's head (by time,
            # then key): the other buffers do not change meanwhile, so the order is the one
            # of taking an item at a time, without looking at every head per item.
            bound = min((head for head in heads if head != first), default=None)
            take = limit - len(ready)
            if bound is None:
                run = [buffer.popleft()[1] for _ in range(min(take, len(buffer)))]
            else:
                run = []
                index = first[1]
                while take and buffer and (buffer[0][0], index) < bound:
                    run.append(buffer.popleft()[1])
                    take -= 1
            if run:
                self.last_taken[key] = run[-1]
            ready += run
        return ready

    def clear(self, stream: Key) -> None:
        self._buffers.pop(stream, None)
