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

from collections.abc import Container, Mapping
from typing import Generic, TypeVar, cast

Item = TypeVar("Item")
# A stream's key: orderable, since equal times leave in key order.
Key = TypeVar("Key", int, tuple[int, int])


class _Buffer(Generic[Item]):
    """One stream's items in arrival order and their event times, in two lists read from
    `head`: every record of a catch-up passes through here, and a run is taken as a slice,
    not an item at a time. The part taken is dropped once it is half of the lists."""

    __slots__ = ("head", "items", "times")

    def __init__(self) -> None:
        self.times: list[int] = []
        self.items: list[Item] = []
        self.head = 0

    def __len__(self) -> int:
        return len(self.items) - self.head

    def first_time(self) -> int:
        return self.times[self.head]

    def extend(self, times: list[int], items: list[Item]) -> None:
        self.times += times
        self.items += items

    def take(self, count: int) -> list[Item]:
        """The next `count` items (fewer if it holds fewer)."""
        return self._taken(min(self.head + count, len(self.items)))

    def take_before(self, bound: tuple[int, int], key_index: int, count: int) -> list[Item]:
        """The next items, up to `count`, while (time, `key_index`) is before `bound`."""
        times, end = self.times, self.head
        stop = min(end + count, len(times))
        while end < stop and (times[end], key_index) < bound:
            end += 1
        return self._taken(end)

    def _taken(self, end: int) -> list[Item]:
        run = self.items[self.head : end]
        if 2 * end >= len(self.items):
            del self.times[:end], self.items[:end]
            end = 0
        self.head = end
        return run


class EventTimeMerge(Generic[Key, Item]):
    def __init__(self) -> None:
        self._buffers: dict[Key, _Buffer[Item]] = {}
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
        if len(times) != len(items):
            raise ValueError(f"{len(times)} times for {len(items)} items")
        if not items:
            self._buffers.setdefault(stream, _Buffer())
            return
        known: list[int] = []
        if None in times:
            last_ts = self._last_ts.get(stream, 0)
            for ts_ns in times:
                last_ts = last_ts if ts_ns is None else ts_ns
                known.append(last_ts)
        else:
            known = cast("list[int]", times)
        self._buffers.setdefault(stream, _Buffer()).extend(known, items)
        self._last_ts[stream] = known[-1]

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
        buffers = [(key, self._buffers.get(key) or _Buffer[Item]()) for key in keys]
        ready: list[Item] = []
        self.last_taken = {}
        while len(ready) < limit:
            heads = [(b.first_time(), index) for index, (_, b) in enumerate(buffers) if b]
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
            run = buffer.take(take) if bound is None else buffer.take_before(bound, first[1], take)
            if run:
                self.last_taken[key] = run[-1]
            ready += run
        return ready

    def clear(self, stream: Key) -> None:
        self._buffers.pop(stream, None)
