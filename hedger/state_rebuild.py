"""Book state rebuilt from the topics before hedging again, and the snapshots that
shorten it (DESIGN section 4; `hedger.recovery` reads the topics).

A rebuild runs at start, on every new assignment of fill partitions, and after a
transaction is given up: fills up to the committed offsets, prices once per engine, the
working orders from the order topic, then the control topic; the engine then decides once
on the rebuilt state (`RecoveryCompleted`) and the service is ready again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from hedger.adapters.delivery import DeliveryMode
from hedger.adapters.kafka import DeliveryTimeoutError
from hedger.adapters.record_signing import unbelieved
from hedger.adapters.snapshots import (
    Snapshot,
    read_snapshot,
    snapshot_name,
    write_snapshot,
)
from hedger.book_metrics import record_books, record_controls
from hedger.codec import CrossedQuoteError, DecodeError
from hedger.core.engine import HedgeEngine
from hedger.core.events import PriceTick, QuoteCrossed, RecoveryCompleted
from hedger.recovery import Record, SentAhead, read_to, rebuild_orders
from hedger.service_parts import ServiceParts

log = logging.getLogger(__name__)


def freeze_if_crossed(engine: HedgeEngine, error: DecodeError) -> None:
    """A crossed quote freezes its underlying, live or rebuilt, though dead-lettered."""
    if isinstance(error, CrossedQuoteError):
        engine.handle(QuoteCrossed(error.symbol, error.ts_ns))


class StateRebuild:
    def __init__(self, parts: ServiceParts) -> None:
        self._settings = parts.settings
        self._engine_config = parts.engine_config
        self._metrics = parts.metrics
        self._driver = parts.driver
        self._inputs = parts.inputs
        self._commits = parts.commits
        self._readiness = parts.readiness
        self._receipt = parts.receipt
        self._control = parts.control
        self._outbox = parts.outbox
        self._sink = parts.sink
        self._signer = parts.signer
        self._snapshots = parts.snapshots
        self._delivery = parts.delivery
        self._prices_rebuilt = self._controls_rebuilt = False
        # What the last run sent on inputs not yet handled again since the rebuild.
        self.sent_ahead = SentAhead({})
        self._orders_read: dict[int, int] = {}  # per order partition, read to at the rebuild

    def start_over(self) -> None:
        """Unready until everything is rebuilt from the committed offsets, prices and
        controls included, into a fresh engine, as at a restart."""
        self._readiness.unready()
        self._prices_rebuilt = self._controls_rebuilt = False
        self._driver.engine = HedgeEngine(self._engine_config)  # a fresh market and controls
        self._sink.forget_unsettled()
        self._commits.drop_held()

    async def rebuild_or_retry(self, stop: asyncio.Event) -> None:
        """A rebuild, or a line saying why it starts over: a read of a topic's end times
        out while a node does not answer (frozen, or failing over), and the service waits
        unready for the cluster rather than stopping on it. Starting over from nothing,
        so that a rebuild cut short (prices read, controls not) leaves no half state."""
        try:
            await self._rebuild(stop)
        except DeliveryTimeoutError:
            raise
        except TimeoutError as error:
            log.warning("rebuild timed out (%r; a node not answering?): starting over", error)
            self.start_over()

    async def _rebuild(self, stop: asyncio.Event) -> None:
        """Rebuild book state for the fill partitions now assigned, before hedging again."""
        self._readiness.unready()
        inputs = self._inputs
        while not inputs.fills.assignment() and not stop.is_set():
            await inputs.fills.getmany(timeout_ms=100)  # joins the group; records are re-read
        if stop.is_set():
            return
        # Decided on books that may have moved (the assignment can change before the watch
        # hears of it): what is held back is decided again after the rebuild.
        self._commits.drop_held()
        await self._commits.drain()  # the commit in flight may still fail and move the assignment
        if self._prices_rebuilt and self._commits.handled_uncommitted():
            # Kept, the market would be ahead of the committed state: its ticks would not
            # be decided again as themselves, and the orders lost with them would come
            # back under other ids, at other times.
            log.warning("batches handled were not committed: prices are read again too")
            self.start_over()
            inputs.forget_handled()
        inputs.watch.changed = False
        inputs.forget_fetched_fills()
        assigned = inputs.fills.assignment()
        self._readiness.rebuilding_for(assigned)
        inputs.track_fills(assigned)
        resume = await inputs.committed_fills()
        prices_to = await inputs.handled_prices(committed=not self._prices_rebuilt)
        # A snapshot holds a market too: only where the market is rebuilt with the books.
        snapshot = None if self._prices_rebuilt else await self._snapshot(resume, prices_to)
        if snapshot is None:
            engine = HedgeEngine(
                self._engine_config,
                market=self._driver.engine.market,
                controls=self._driver.engine.controls,
            )
        else:
            engine = snapshot.engine
            self._receipt.restore(snapshot.receipts)
        self._driver.engine = engine
        self._metrics.rebuild_source.set(snapshot is not None)
        starts = {} if snapshot is None else snapshot.inputs
        orders, self.sent_ahead, self._orders_read = await rebuild_orders(
            self._settings.require_bootstrap(),
            self._settings.orders_topic,
            {tp.partition for tp in assigned},
            engine,
            {**resume, **prices_to},
            None if snapshot is None else snapshot.orders,
            self._believed,
        )
        self._outbox.orders_end.clear()
        await read_to(inputs.fills, resume, self._recover_record, starts)
        if not self._prices_rebuilt:
            await read_to(inputs.prices, prices_to, self._recover_record, starts)
            self._prices_rebuilt = True
        if not self._controls_rebuilt:
            # Kill switches and latches outlive restarts: the topic is their memory.
            controls = await self._control.replay(engine.handle)
            self._controls_rebuilt = True
            log.info("control state rebuilt from %d records", controls)
        for timing in self._receipt.after_rebuild(engine.market.last_tick_ns):
            engine.handle(timing)
        record_controls(self._metrics, engine)
        decided = await self._sink.deliver(None, engine.handle(RecoveryCompleted(ts_ns=0)))
        await self._sink.flush()
        await self._commits.commit({tp: await inputs.fills.position(tp) for tp in assigned})
        await inputs.note_rebuilt()
        inputs.record_lag(self._metrics, {})
        record_books(self._metrics, engine)
        self._snapshots.rebuilt()
        self._readiness.ready()
        log.info(
            "state rebuilt: %d partitions, %d orders, %d working, %d sent on the rebuilt state",
            len(assigned),
            orders,
            len(engine.working_orders()),
            decided,
        )

    async def _believed(self, record: Record) -> bool:
        """An order read back is believed only with the hedger's signature, when a key is
        configured; any other is dead-lettered at each rebuild that reads it."""
        forged = unbelieved(self._signer, record)
        if forged is not None:
            await self._sink.dead_letter(record, forged.kind, forged.detail)
        return forged is None

    async def _snapshot(
        self, resume: dict[TopicPartition, int], prices_to: dict[TopicPartition, int]
    ) -> Snapshot | None:
        """The last snapshot of the fill partitions now assigned, if it stands for inputs
        up to or before the committed ones (at least once, a crash between a batch's
        snapshot and its commit leaves one ahead: the inputs after the commit are handled
        again, so it is not used)."""
        if not self._snapshots.enabled:
            return None
        found = await read_snapshot(
            self._settings.require_bootstrap(),
            self._settings.snapshot_topic,
            self._snapshot_name(),
            self._engine_config,
            self._signer,
        )
        handled = {**resume, **prices_to}
        if isinstance(found, Snapshot) and (
            found.inputs.keys() != handled.keys()
            or any(offset > handled[tp] for tp, offset in found.inputs.items())
        ):
            found = "snapshot ahead of the committed offsets (taken before a commit that failed)"
        if isinstance(found, str):
            log.info("rebuilding from the start of the topics: %s", found)
            return None
        # Rebuilt state decides nothing until RecoveryCompleted, as a fresh engine.
        found.engine.live = False
        taken = dt.datetime.fromtimestamp(found.taken_ns / 1e9, dt.UTC)
        log.info("rebuilding from a snapshot taken %s", taken.isoformat(timespec="seconds"))
        return found

    def _snapshot_name(self) -> str:
        fills = {tp.partition for tp in self._readiness.rebuilt_for}
        return snapshot_name(self._settings.group_id, self._settings.fills_topic, fills)

    async def snapshot_if_due(self, offsets: dict[TopicPartition, int]) -> bool:
        """Write a snapshot of the state as it is once `offsets` (the batch's) are handled,
        in the batch. Not while orders sent before a restart wait for their inputs: the
        state lacks them, while the order topic, read to its end, has them. Nor while records
        are held back (their orders are in the state, not yet on the topic), or would be: a
        later batch takes it."""
        due = self._snapshots.due(catching_up=self._inputs.behind)
        if not due or self.sent_ahead or self._commits.holding_back:
            return False
        await self._sink.settle()  # the offsets of every order the state has seen
        started = time.perf_counter()
        orders = {
            partition: max(end, self._outbox.orders_end.get(partition, 0))
            for partition, end in self._orders_read.items()
        }
        snapshot = Snapshot(
            self._driver.engine,
            self._inputs.handled_with(offsets),
            orders,
            self._receipt.state(),
            time.time_ns(),
        )
        try:
            size = await write_snapshot(
                self._outbox.write,
                self._settings.snapshot_topic,
                self._snapshot_name(),
                snapshot,
                self._settings.max_message_bytes,
            )
        except (DeliveryTimeoutError, KafkaError) as error:
            if self._delivery is DeliveryMode.EXACTLY_ONCE:
                raise  # in the batch's transaction: given up with it
            # A snapshot only shortens a restart: hedging goes on without it. Chunks written
            # without their manifest are never read.
            self._snapshots.failed()
            self._metrics.snapshot_failures.inc()
            log.warning(
                "snapshot not written, next try in %g s: %s",
                self._settings.snapshot_interval_s,
                error,
            )
            return False
        self._snapshots.written()
        self._metrics.snapshot_bytes.set(size)
        self._metrics.snapshot_write_seconds.set(time.perf_counter() - started)
        return True

    async def _recover_record(self, record: Record) -> None:
        """Replay a handled record into state only (what it sent is on the topics)."""
        decoded = self._inputs.decode(record)
        engine = self._driver.engine
        if isinstance(decoded, DecodeError):
            freeze_if_crossed(engine, decoded)
            return
        engine.handle(decoded)
        if isinstance(decoded, PriceTick):
            self._receipt.noted(decoded, record)
