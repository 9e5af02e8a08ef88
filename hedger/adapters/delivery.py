"""How a batch's output and input offsets reach Kafka: exactly once where the broker has
transactions, at least once with deterministic order ids where it has not (DESIGN §4).

Exactly once (Apache Kafka): one transactional, idempotent producer per instance, its
transactional id `<group>.<instance>`, so a restarted instance fences its former self and
the broker aborts what that one left open. A transaction opens at a batch's first send;
its orders, cancels, dead letters and latches, and the batch's input offsets (prices and
fills, under the instance's own group, `send_offsets_to_transaction`) commit together, or
none of it is visible to a `read_committed` reader (every reader in this project is one).
The shared group's fill offsets, which hand the books to their next owner, are committed
after the transaction; a crash between the two leaves them behind, and the next owner
handles those fills again: what was decided on them is on the order topic, naming them,
and joins its state instead of being sent again (`hedger.recovery.SentAhead`).

At least once (the embedded broker refuses InitProducerId): a plain producer; offsets are
committed after the batch is acknowledged, first under the instance's own group, then
the shared one; a crash in between re-reads the batch, sending nothing twice for the same
reason.

`HEDGER_DELIVERY=auto` (the default) tries a transactional producer and falls back when
the broker refuses it; `exactly_once` refuses to start without one.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import Awaitable, Callable

import aiokafka.producer.sender as _aiokafka_sender
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    CommitFailedError,
    IllegalStateError,
    KafkaError,
    ProducerFenced,
    UnknownError,
    UnsupportedVersionError,
)
from aiokafka.structs import TopicPartition

from hedger.adapters.kafka import DeliveryTimeoutError, make_producer, quiet

log = logging.getLogger(__name__)

# The broker aborts a transaction left open this long (a hedger frozen or killed
# mid-batch); until then read_committed readers of its partitions wait. A batch's
# transaction lasts a round trip or two.
TRANSACTION_TIMEOUT_MS = 10_000

# A batch's transaction opens just after the last one's commit, while the coordinator is
# still writing that one's markers, so its first AddPartitionsToTxn and AddOffsetsToTxn are
# answered CONCURRENT_TRANSACTIONS (KAFKA-5477). aiokafka retries the first after a fixed
# 20 ms (its module's `BACKOFF_OVERRIDE`, set here to 2 ms: the markers take about one) and
# the second after retry_backoff_ms (100 ms by default). On one Apache Kafka node that was
# 28 of a one-record transaction's 36 ms, and each batch's first send waits for the last
# commit: tick to order took 106 ms at the median (`python -m benchmarks tick_to_order`).
TRANSACTION_RETRY_BACKOFF_MS = 20
_aiokafka_sender.BACKOFF_OVERRIDE = 0.002

Offsets = dict[TopicPartition, int]

# What a broker without transactions answers InitProducerId with (the embedded one:
# UNKNOWN); any other failure is a fault, not an answer.
_NO_TRANSACTIONS = (UnknownError, UnsupportedVersionError)


class DeliveryMode(enum.StrEnum):
    EXACTLY_ONCE = "exactly_once"
    AT_LEAST_ONCE = "at_least_once"


class DeliveryUnavailableError(RuntimeError):
    """HEDGER_DELIVERY=exactly_once, and the broker has no transactions."""


async def start_producer(
    bootstrap: str, wanted: str, transactional_id: str
) -> tuple[AIOKafkaProducer, DeliveryMode]:
    """The service's producer, started, and the mode it delivers in (`wanted`: auto,
    exactly_once or at_least_once)."""
    if wanted != DeliveryMode.AT_LEAST_ONCE:
        producer = make_producer(
            bootstrap,
            "hedger",
            transactional_id=transactional_id,
            transaction_timeout_ms=TRANSACTION_TIMEOUT_MS,
            retry_backoff_ms=TRANSACTION_RETRY_BACKOFF_MS,
        )
        try:
            # aiokafka logs a refused InitProducerId with a traceback at ERROR; here the
            # refusal is an answer (no transactions on this broker), reported once below.
            with quiet(logging.getLogger("aiokafka.producer.sender")):
                await producer.start()
        except _NO_TRANSACTIONS as error:
            await producer.stop()
            if wanted == DeliveryMode.EXACTLY_ONCE:
                raise DeliveryUnavailableError(
                    f"HEDGER_DELIVERY=exactly_once, but the broker refused a transactional"
                    f" producer ({type(error).__name__}); use auto or at_least_once"
                ) from None
            log.info("the broker refused a transactional producer (%r)", error)
        except KafkaError as error:
            # A broker with transactions that failed us (a coordinator lookup, a missing
            # permission on the transactional id): falling back would silently weaken the
            # guarantee, so the start fails and says why.
            await producer.stop()
            raise DeliveryUnavailableError(
                f"could not start the transactional producer {transactional_id!r}: {error!r}"
            ) from None
        else:
            return producer, DeliveryMode.EXACTLY_ONCE
    producer = make_producer(bootstrap, "hedger")
    await producer.start()
    return producer, DeliveryMode.AT_LEAST_ONCE


class OffsetCommits:
    """At least once: the batch's offsets under the instance's own group, then the fills'
    under the shared group, after the batch was acknowledged."""

    mode = DeliveryMode.AT_LEAST_ONCE

    def __init__(self, own: AIOKafkaConsumer, shared: AIOKafkaConsumer) -> None:
        self._own, self._shared = own, shared

    holds_output = False  # every send stands alone: nothing waits for a commit to show

    def owners_changed(self) -> None:
        """Nothing kept per owner."""

    async def before_send(self) -> None:
        """Nothing to open: every send stands alone."""

    async def commit(self, offsets: Offsets) -> None:
        await _commit_owned(self._own, offsets)
        await _commit_owned(self._shared, offsets)


class OwnershipLostError(Exception):
    """The fill partitions moved to another instance while a batch was in hand: its
    transaction was aborted, and nothing more may be sent before a rebuild."""


class FencedError(RuntimeError):
    """The transaction coordinator fenced this producer: a newer one holds its
    transactional id, or a transaction outlived `TRANSACTION_TIMEOUT_MS` and was aborted."""


class TransactionalCommits:
    """Exactly once: the batch's records and its offsets under the instance's own group in
    one transaction, then the fills' under the shared group.

    Fencing a frozen instance (a zombie) whose books moved on: aiokafka's TxnOffsetCommit
    carries no group generation (KIP-447), so before each transaction commits, the shared
    group's offsets of the last committed batch are committed again: a request the group
    coordinator refuses from a member of an old generation. Refused, the transaction is
    aborted and the instance rebuilds. Frozen after that check instead, its batch is on the
    log in an open transaction, and the new owner's read_committed rebuild waits at it
    until it commits (and joins the new owner's state as sent ahead) or is aborted."""

    mode = DeliveryMode.EXACTLY_ONCE

    def __init__(
        self,
        producer: AIOKafkaProducer,
        own: AIOKafkaConsumer,
        own_group: str,
        shared: AIOKafkaConsumer,
        deadline_s: float,
    ) -> None:
        self._producer = producer
        self._deadline_s = deadline_s
        self._own, self._own_group, self._shared = own, own_group, shared
        self._open = False
        # Per owned fill partition, the shared group's last committed offset.
        self._durable: Offsets = {}

    def use(self, producer: AIOKafkaProducer) -> None:
        """Commit with `producer` from now on (a new one, after fencing)."""
        self._producer, self._open = producer, False

    @property
    def holds_output(self) -> bool:
        """A transaction is open: records sent in it show only once it commits."""
        return self._open

    def owners_changed(self) -> None:
        """The fill partitions were reassigned: what was durable is another owner's now."""
        self._durable = {}

    async def before_send(self) -> None:
        """Open the batch's transaction at its first send."""
        if not self._open:
            await self._producer.begin_transaction()
            self._open = True

    async def commit(self, offsets: Offsets) -> None:
        own = {tp: offset for tp, offset in offsets.items() if tp in self._own.assignment()}
        if not own and not self._open:
            return
        await self.before_send()
        try:
            # aiokafka's transaction calls have no deadline of their own: a coordinator
            # that never answers would hold the service (and its next batch) forever.
            async with asyncio.timeout(self._deadline_s):
                await self._end_transaction(own)
        except TimeoutError:
            raise DeliveryTimeoutError(
                f"the transaction coordinator did not end a batch's transaction within"
                f" {self._deadline_s:g} s (HEDGER_SEND_TIMEOUT_S)"
            ) from None
        except ProducerFenced:
            _retrieve_fatal_error(self._producer)
            raise FencedError(
                "the transaction coordinator fenced this instance's producer: another"
                " instance started with its transactional id, or a batch's transaction"
                f" outlived {TRANSACTION_TIMEOUT_MS} ms (a frozen process) and was aborted"
            ) from None
        finally:
            self._open = False
        await _commit_owned(self._shared, offsets)
        owned = self._shared.assignment()
        self._durable.update((tp, offset) for tp, offset in offsets.items() if tp in owned)

    async def _end_transaction(self, own: Offsets) -> None:
        try:
            if own:
                await self._producer.send_offsets_to_transaction(own, self._own_group)
            await self._confirm_owner()
            await self._producer.commit_transaction()
        except OwnershipLostError:
            await self._producer.abort_transaction()
            raise

    async def _confirm_owner(self) -> None:
        owned = self._shared.assignment()
        try:
            if not self._durable:  # the first batch since the partitions were assigned
                for tp in owned:
                    committed = await self._shared.committed(tp)
                    if committed is not None:
                        self._durable[tp] = committed
            if not self._durable.keys() <= owned:
                raise OwnershipLostError("the fill partitions were reassigned mid-batch")
            await _commit_owned(self._shared, self._durable)
        except (CommitFailedError, IllegalStateError) as error:
            raise OwnershipLostError(str(error)) from None


Commits = OffsetCommits | TransactionalCommits


async def renew_producer(
    old: AIOKafkaProducer,
    bootstrap: str,
    transactional_id: str,
    close: Callable[[Callable[[], Awaitable[None]]], Awaitable[None]],
    deadline_s: float,
) -> AIOKafkaProducer:
    """A new transactional producer in place of an old one, fenced or stuck; `close` stops
    the old under a deadline. The new one starts first: its InitProducerId aborts whatever
    the old one left open and fences it, so records the old one still retries are refused
    instead of holding its stop (which flushes) to the deadline. The start waits for the
    abort's markers, which wait for the partitions' in-sync replicas: it gets `deadline_s`
    too, or `DeliveryTimeoutError`."""
    try:
        async with asyncio.timeout(deadline_s):
            producer, _ = await start_producer(
                bootstrap, DeliveryMode.EXACTLY_ONCE, transactional_id
            )
    except TimeoutError:
        raise DeliveryTimeoutError(
            f"a new transactional producer did not start within {deadline_s:g} s"
            " (HEDGER_SEND_TIMEOUT_S): the broker did not finish aborting the last"
            " transaction (a partition's in-sync replicas missing?)"
        ) from None
    await close(old.stop)
    _retrieve_fatal_error(old)
    return producer


def _retrieve_fatal_error(producer: AIOKafkaProducer) -> None:
    """aiokafka also leaves a fatal error on its transaction waiter, which nobody awaits once
    the error was raised to the caller: retrieved here, it is not logged again at exit
    ("Future exception was never retrieved", with a traceback)."""
    waiter = producer._txn_manager.wait_for_transaction_end()
    if waiter is not None and waiter.done() and not waiter.cancelled():
        waiter.exception()


async def _commit_owned(consumer: AIOKafkaConsumer, offsets: Offsets) -> None:
    owned = {tp: offset for tp, offset in offsets.items() if tp in consumer.assignment()}
    if not owned:
        return
    try:
        await consumer.commit(owned)
    except IllegalStateError as error:
        # The assignment moved between the look and the commit (a rebalance under way).
        raise CommitFailedError(str(error)) from None
