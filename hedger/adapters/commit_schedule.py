"""When the inputs' offsets are committed: in the background, off the tick-to-order path,
grouped while more records wait, after the records their batches sent are acknowledged,
and, exactly once, with the records held back for the next transaction.

`InputStreams` hands out the batches and says whether more records wait (`behind`); the
batch loop hands each batch's offsets here (`commit_soon`); the rebuild and a stop wait
for every one to land (`drain`). How a commit is made (in the producer's transaction, or
as a plain offset commit) is `hedger.adapters.delivery`'s.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from typing import Protocol

from aiokafka import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError
from aiokafka.structs import TopicPartition

from hedger.adapters.delivery import Commits, DeliveryMode, OwnershipLostError

log = logging.getLogger(__name__)

# While more records wait after a batch (fetched, or on the broker: a catch-up, a burst),
# its offsets (and, exactly once, its transaction, orders included) are committed at most
# this often, else with the next batches'. Committing every batch of a catch-up cost a
# transaction per 500 records on Apache Kafka (~30 ms, five round trips), and each batch
# holding an order waited for the one in flight: 0.1 s still left a third of the time
# with a commit in flight (benchmarks/service_catch_up.py). Live, with nothing waiting, a
# batch is committed at once as before. A crash re-reads at most this much more (decisions
# are deterministic: nothing is sent twice).
_COMMIT_INTERVAL_S = 0.25
# Most records held back for the next transaction (`CommitSchedule.hold_sends`); past it,
# the next batch waits for the commit: a commit that hangs until the send deadline must not
# let the loop run ahead without bound (the memory, and the work a given-up transaction
# loses).
HELD_MAX_RECORDS = 10_000


class SentBatches(Protocol):
    """The records batches sent, acknowledged in the background (`ActionSink`)."""

    @property
    def unsettled(self) -> bool:
        """Some batch's records were not yet waited for."""

    @property
    def held(self) -> int:
        """How many records are held back (`CommitSchedule.hold_sends`)."""

    async def settle(self) -> None:
        """Wait until every batch's records are acknowledged; raise if one was not."""

    async def release(self) -> None:
        """Send the records held back (opening a transaction waits for the one ending)."""

    def drop_held(self) -> None:
        """Never send the records held back."""


class _NothingSent:
    """Until `CommitSchedule.commit_after` names the batches' sink."""

    unsettled = False
    held = 0

    async def settle(self) -> None:
        return None

    async def release(self) -> None:
        return None

    def drop_held(self) -> None:
        return None


class AssignmentWatch(ConsumerRebalanceListener):  # type: ignore[misc]
    """Notes a new assignment of fill partitions; the loop rebuilds before its next batch.

    Nothing needs draining on revoke: every batch is delivered and committed before the
    next poll, and a commit that loses the race to a rebalance is re-read by the new owner.
    """

    def __init__(self) -> None:
        self.changed = False

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        log.info("fill partitions revoked: %s", sorted(tp.partition for tp in revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("fill partitions assigned: %s", sorted(tp.partition for tp in assigned))
        self.changed = True


class CommitSchedule:
    def __init__(
        self,
        commits: Commits,
        watch: AssignmentWatch,
        behind: Callable[[], bool],
        clock: Callable[[], float],
        shutdown_timeout_s: float,
    ) -> None:
        """`behind()`: as of the last batch handed out, more records wait (fetched, or on
        the broker); `watch` is told of a commit lost to a rebalance, and stops a drain
        from sending what was held back once the fill partitions moved."""
        self.commits = commits
        self._watch = watch
        self._behind = behind
        self._clock = clock
        self._shutdown_timeout_s = shutdown_timeout_s
        self._to_commit: dict[TopicPartition, int] = {}
        # The offsets of the batches whose records are held back: committed with them.
        self._held_offsets: dict[TopicPartition, int] = {}
        self._committing: asyncio.Task[None] | None = None
        self._sent: SentBatches = _NothingSent()
        self._started_at = -math.inf  # clock() when the last commit began
        # Batches handed out, handed back to `commit_soon`, and committed (counts): the
        # engine has seen every batch handed out, whether or not its output was sent.
        self._batches_handed = self._batches_queued = self._batches_committed = 0

    def commit_after(self, sent: SentBatches) -> None:
        """Commit a batch's offsets only once `sent` has settled its records."""
        self._sent = sent

    def batch_handed(self) -> None:
        """A batch was handed to the engine (its offsets come to `commit_soon` once handled)."""
        self._batches_handed += 1

    def forget(self) -> None:
        """Nothing kept of the offsets waiting to be committed, nor of the batches handed
        out since the committed offsets (everything is read again from them)."""
        self._to_commit.clear()
        self._held_offsets.clear()
        self._batches_handed = self._batches_queued = self._batches_committed = 0

    def commit_soon(self, offsets: dict[TopicPartition, int], *, now: bool = False) -> None:
        """Commit `offsets` in the background, off the tick-to-order path: a commit is a
        broker round trip (10-130 ms measured on Apache Kafka) that the next tick would
        otherwise wait behind. Offsets handed in while one commit is in flight are merged
        and go in the next; so do those handed in while more records wait (the last batch
        left some behind), within `_COMMIT_INTERVAL_S` of the last commit, unless `now`: a
        later call commits them, and `drain` does. While records are held back, offsets are
        too, until `release_held` sends them. The error of a failed commit is raised here or
        by `drain`."""
        self.raise_error()
        if offsets and self._sent.held:
            self._held_offsets.update(offsets)
        elif offsets:
            self._to_commit.update(offsets)
            self._batches_queued = self._batches_handed
        if self._in_flight():
            return
        if not self._to_commit and not self.commits.holds_output and not self._sent.unsettled:
            return  # nothing to commit (a transaction may hold records of its own)
        started = self._clock()
        if not now and started - self._started_at < _COMMIT_INTERVAL_S and self._behind():
            return
        self._started_at = started
        self._committing = asyncio.create_task(self._commit_pending())

    def _in_flight(self) -> bool:
        return self._committing is not None and not self._committing.done()

    def outstanding(self) -> bool:
        """Something handed in, sent or held back is not committed yet."""
        waiting = bool(self._to_commit) or self.commits.holds_output or self._sent.unsettled
        return self._in_flight() or waiting or bool(self._sent.held)

    async def drain(self) -> None:
        """Wait until every offset handed to `commit_soon` is committed (before a rebuild
        or a stop, so the committed position is exactly the work delivered). Records held
        back are sent first, or, where the fill partitions moved, never."""
        await self._settled()
        if self._watch.changed:
            self.drop_held()
        await self.release_held()
        if self.outstanding():  # held back by commit_soon
            self.commit_soon({}, now=True)
            await self._settled()

    async def _settled(self) -> None:
        """Wait for the commit in flight, if any, and raise its error."""
        if self._committing is not None:
            # Waits without raising (nor cancelling the commit if this wait is cancelled):
            # the commit's error is raised, once, below.
            await asyncio.wait({self._committing})
        self.raise_error()

    async def settle_at_close(self) -> None:
        """At close, after a failure elsewhere (a clean stop has drained): a commit still in
        flight gets the shutdown deadline to land, and its own error is only logged, the
        service is stopping on another. Never cancelled: aiokafka's inner commit would then
        fail unobserved when the consumer closes, with a traceback on stderr."""
        task, self._committing = self._committing, None
        if task is None:
            return
        await asyncio.wait({task}, timeout=self._shutdown_timeout_s)
        task.add_done_callback(_log_commit_error)

    def raise_error(self) -> None:
        """Raise the error of a commit that failed in the background (once)."""
        task = self._committing
        if task is not None and task.done() and not task.cancelled():
            self._committing = None
            task.result()

    def _transaction_ending(self) -> bool:
        """Exactly once, a commit is in flight: a send waits for it to end (`before_send`)."""
        return self._in_flight() and self.commits.mode is DeliveryMode.EXACTLY_ONCE

    def hold_sends(self) -> bool:
        """Records are held back rather than wait for the transaction ending, while more
        records wait (fetched, or on the broker): the loop goes on with them. A catch-up
        waited for each commit a batch holding an order met, a tenth of its time on Apache
        Kafka (`benchmarks/service_catch_up.py`). With nothing more waiting (live), a
        batch's records wait for the commit as before, not for a later batch."""
        return self._behind() and self._transaction_ending()

    @property
    def holding_back(self) -> bool:
        """Records are held back, or a send now would be."""
        return bool(self._sent.held) or self.hold_sends()

    async def release_held(self) -> None:
        """Between batches: send the records held back, in the next transaction, and hand
        their batches' offsets on to be committed with them. While the commit they were
        held for is still in flight and more records wait, they stay held, up to
        `HELD_MAX_RECORDS`; past it, this waits for the commit."""
        held = self._sent.held
        if not held or (self.hold_sends() and held < HELD_MAX_RECORDS):
            return
        await self._sent.release()
        self._to_commit.update(self._held_offsets)
        self._held_offsets.clear()
        self._batches_queued = self._batches_handed

    def drop_held(self) -> None:
        """Never send what is held back: it was decided on books that may have moved, and
        its batches, never committed, are handled again after the rebuild."""
        self._sent.drop_held()
        self._held_offsets.clear()

    async def before_send(self) -> None:
        """In a transaction, the batch's first send waits for the commit in flight to end
        and opens the next (one transaction at a time), or sends in the one still open
        (its commit held back by `commit_soon`); otherwise it waits for nothing."""
        if self.commits.mode is DeliveryMode.EXACTLY_ONCE:
            await self._settled()
            if self._watch.changed:
                # The last batch's commit found the partitions gone: this batch was decided
                # on books another instance now owns.
                raise OwnershipLostError("the fill partitions moved: rebuilding before sending")
            await self.commits.before_send()

    async def _commit_pending(self) -> None:
        # Once even with no offsets: a transaction may hold records of its own (controls).
        while True:
            offsets, self._to_commit = self._to_commit, {}
            batches = self._batches_queued
            # The batches' records were all sent before their offsets were handed in.
            await self._sent.settle()
            if await self.commit(offsets):
                self._batches_committed = batches
            if not self._to_commit and not self._sent.unsettled:
                return

    async def commit(self, offsets: dict[TopicPartition, int]) -> bool:
        """Commit `offsets` (with the open transaction, if any); False when a rebalance
        took the partitions first."""
        try:
            await self.commits.commit(offsets)
        except (CommitFailedError, OwnershipLostError) as error:
            # Lost the partitions to a rebalance mid-batch: the new owner re-reads the
            # batch, and deterministic order ids keep that from sending anything twice.
            log.warning("commit lost to a rebalance: %s", error)
            self._watch.changed = True
            return False
        return True

    def handled_uncommitted(self) -> bool:
        """Since the last commit that landed, a batch was handed out and then dropped, or
        its commit was lost: the market has seen prices whose decisions were not committed
        (in a transaction, nothing of them shows). Asked once `drain` has returned."""
        return self._batches_committed != self._batches_handed


def _log_commit_error(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("the last offset commit failed: %s", task.exception())
