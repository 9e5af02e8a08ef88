"""Records of the input topics decoded, and each event's time held to its record's Kafka
timestamp: one record at a time (`InputDecoding.decode`, as a rebuild reads them), or a
fetched partition at once (`InputDecoding.timed`, as the live service reads them, with the
event times the merge orders them by). The same verdicts either way, limits taken exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import cast

from hedger.codec import DecodeError, decode_fill, decode_price
from hedger.codec_ticks import fast_tick
from hedger.config import Settings
from hedger.core.events import Event, PriceTick
from hedger.recovery import Record

# A record as the merge hands it out: with its event, or why it has none.
Decoded = tuple[Record, Event | DecodeError]


class InputDecoding:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # How far an event's time may lie after or before its record's Kafka timestamp, in
        # ns (0 in the settings: no limit); compared with the integer difference, exactly.
        self._ahead_ns = settings.max_event_ahead_s * 1e9 or math.inf
        self._behind_ns = settings.max_event_behind_s * 1e9 or math.inf
        # Called with (value, max bytes) positionally: a partial with a keyword argument
        # cost a fifth of decoding a tick.
        self._decoders: dict[str, Callable[[bytes, int], Event]] = {
            settings.prices_topic: decode_price,
            settings.fills_topic: decode_fill,
        }

    def decode(self, record: Record) -> Event | DecodeError:
        try:
            event = self._decoders[record.topic](
                record.value or b"", self.settings.max_message_bytes
            )
        except DecodeError as error:
            return error
        return self._timely(record, event)

    def _timely(self, record: Record, event: Event) -> Event | DecodeError:
        """The event, or why its time is implausible against the record's Kafka timestamp
        (when the producer sent it, or the broker stored it): a tick dated 2100 would
        expire every option and freeze the mark. Against that timestamp, not the clock of
        the moment, so a rebuild refuses exactly what the live service refused."""
        if record.timestamp < 0:  # a record without a timestamp: nothing to hold it to
            return event
        ahead_ns = event.ts_ns - record.timestamp * 1_000_000
        if ahead_ns > self._ahead_ns:
            return DecodeError(
                "event_time_ahead",
                f"event time {ahead_ns / 1e9:.0f} s after the record's Kafka timestamp"
                f" (HEDGER_MAX_EVENT_AHEAD_S={self.settings.max_event_ahead_s:g})",
            )
        if -ahead_ns > self._behind_ns:
            return DecodeError(
                "event_time_behind",
                f"event time {-ahead_ns / 1e9:.0f} s before the record's Kafka timestamp"
                f" (HEDGER_MAX_EVENT_BEHIND_S={self.settings.max_event_behind_s:g})",
            )
        return event

    def timed(self, topic: str, records: list[Record]) -> tuple[list[int | None], list[Decoded]]:
        """Each of a partition's `records` decoded (as `decode` does), and its event time for
        the merge (None when unreadable). A catch-up spends here what the bare consumer
        spends on its whole record: a fetch of ticks that are all valid and timely (the
        common case) is decoded by list, and its times checked by their extremes."""
        values = [record.value or b"" for record in records]
        ticks = None
        if topic == self.settings.prices_topic:
            ticks = self._fast_ticks(values)
            if ticks is not None and None not in ticks:
                valid = cast("list[PriceTick]", ticks)
                times = [tick.ts_ns for tick in valid]
                if self._all_timely(times, [record.timestamp for record in records]):
                    return cast("list[int | None]", times), list(zip(records, valid, strict=True))
        return self._timed_each(topic, records, values, ticks or [None] * len(values))

    def _fast_ticks(self, values: list[bytes]) -> list[PriceTick | None] | None:
        """`fast_tick` of each value (None for one it cannot vouch for), or None when one is
        larger than allowed (`decode_price` judges those first)."""
        if max(map(len, values), default=0) > self.settings.max_message_bytes:
            return None
        return [fast_tick(value) for value in values]

    def _all_timely(self, times: list[int], stamps_ms: list[int]) -> bool:
        """Whether every event time passes `_timely`'s test against its record's Kafka
        timestamp, as proven by the extremes of both (exact integers, as that test): true
        for a fetch of a live feed or of a replay alike, whose times span little."""
        if not times:
            return True
        # Each record's difference lies between these. One without a timestamp (-1) is
        # always timely, and its -1 only widens the first: it can fail the test, never pass
        # a record that fails. A limit that is off (infinite) needs no extremes.
        ahead_ns, behind_ns = self._ahead_ns, self._behind_ns
        return (ahead_ns == math.inf or max(times) - min(stamps_ms) * 1_000_000 <= ahead_ns) and (
            behind_ns == math.inf or max(stamps_ms) * 1_000_000 - min(times) <= behind_ns
        )

    def _timed_each(
        self,
        topic: str,
        records: list[Record],
        values: list[bytes],
        ticks: list[PriceTick | None],
    ) -> tuple[list[int | None], list[Decoded]]:
        """`timed` record by record: `decode`, but for the `ticks` already decoded."""
        decoder, max_bytes = self._decoders[topic], self.settings.max_message_bytes
        ahead_limit_ns, behind_limit_ns = self._ahead_ns, self._behind_ns
        times: list[int | None] = []
        decoded: list[Decoded] = []
        for record, value, tick in zip(records, values, ticks, strict=True):
            try:
                event = tick or decoder(value, max_bytes)
            except DecodeError as error:
                times.append(None)
                decoded.append((record, error))
                continue
            # `_timely`'s test, inlined (per record); `_timely` says why one fails it.
            stamp_ms = record.timestamp
            if stamp_ms >= 0:
                ahead_ns = event.ts_ns - stamp_ms * 1_000_000
                if ahead_ns > ahead_limit_ns or -ahead_ns > behind_limit_ns:
                    times.append(None)
                    decoded.append((record, self._timely(record, event)))
                    continue
            times.append(event.ts_ns)
            decoded.append((record, event))
        return times, decoded
