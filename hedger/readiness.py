"""Whether the live service may be sent traffic, kept in one place: `/readyz`, the
`hedger_ready` gauge and the service loop all ask `Readiness`.

Ready means: started (broker and topics checked), state rebuilt for the fill partitions
now assigned, the broker answering, and no stop requested. A stopping instance is unready
at once, before its last batch finishes.
"""

from __future__ import annotations

import asyncio
import logging
import time

from aiokafka.structs import TopicPartition

from hedger.adapters.inputs import InputStreams
from hedger.adapters.kafka import last_fetch_s
from hedger.adapters.metrics import Metrics

log = logging.getLogger(__name__)

# A broker silent this long counts as unreachable: even the control consumer's idle fetch
# returns every 500 ms.
_BROKER_SILENCE_S = 5.0


class Readiness:
    def __init__(self, metrics: Metrics, inputs: InputStreams) -> None:
        self._metrics = metrics
        self._inputs = inputs
        self.rebuilt = False  # the state stands for the fill partitions it was rebuilt for
        self.waiting_for: str | None = "starting: checking the broker and topics"
        self.rebuilt_for: set[TopicPartition] = set()  # the fill partitions of the state
        self.rebuilt_at_s = 0.0  # wall time (epoch s) the last rebuild ended
        self._stop = asyncio.Event()  # serving_until() replaces it with the caller's
        self._stopping_noted = False

    def unready(self) -> None:
        """State about to be rebuilt (or dropped): nothing is decided until it is."""
        self.rebuilt = False
        self._metrics.ready.set(0)

    def rebuilding_for(self, fills: set[TopicPartition]) -> None:
        self.unready()
        self.rebuilt_for = set(fills)

    def ready(self) -> None:
        """Rebuilt: a rebuild reads the topics, so its end is a broker answer too."""
        self.rebuilt_at_s = time.time()
        self.rebuilt = True
        self._metrics.ready.set(1)

    def reason(self) -> str | None:
        """Why /readyz answers 503, or None when ready."""
        if self._stop.is_set():
            return "stopping"
        if self.waiting_for is not None:
            return self.waiting_for
        if not self.rebuilt or self.assignment_moved():
            return "rebuilding state"  # or about to: the fill partitions were reassigned
        if not self._inputs.fills.assignment():
            return "no fill partitions assigned"
        if not self._broker_answering():
            return "broker unreachable"
        return None

    def assignment_moved(self) -> bool:
        """The fill partitions differ from those the state was rebuilt for. Also asked of
        the assignment itself: aiokafka updates it before the rebalance listener runs."""
        inputs = self._inputs
        return inputs.watch.changed or inputs.fills.assignment() != self.rebuilt_for

    def _broker_answering(self) -> bool:
        consumers = (self._inputs.fills, self._inputs.prices)
        fetched = [last_fetch_s(consumer) for consumer in consumers]
        latest = max(stamp for stamp in [self.rebuilt_at_s, *fetched] if stamp is not None)
        return time.time() - latest <= _BROKER_SILENCE_S

    def serving_until(self, stop: asyncio.Event) -> asyncio.Task[None]:
        """Unready from the moment `stop` is set: the task that notes it (cancel it when
        the service ends)."""
        self._stop = stop
        return asyncio.create_task(self._unready_on(stop))

    async def _unready_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.stopping()

    def stopping(self) -> None:
        """Not ready from the moment a stop is requested, while the last batch finishes."""
        if not self._stopping_noted:
            self._stopping_noted = True
            self._metrics.ready.set(0)
            log.info("stop requested: not ready from now on")

    def stopped(self) -> None:
        self.stopping()  # the watcher may not have run yet if the last batch never waited
        self.unready()
