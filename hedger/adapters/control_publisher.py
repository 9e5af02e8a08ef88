"""Writes the HTTP control requests (`POST /control/kill`, `/control/rearm`) to the control
topic, so that a request answered with an error is never carried out later.

A record the broker did not acknowledge in time may still be in flight, or waiting in the
producer, and land once the broker is back: a kill answered 503 would engage then. So where
the broker has transactions, each request is a transaction of its own: 202 once it is
committed, 503 when the record is not acknowledged within the deadline, and then it is never
committed. The producer is replaced at once, under the same transactional id: the new one's
InitProducerId makes the coordinator abort what the old one left open and fences the old
one, so its record, wherever it lands, stays invisible to every reader (all read committed).
Requests wait for the replacement (within their own deadline) rather than overtake it.

Once acknowledged, the commit's outcome is awaited without a deadline: answering 503 while
the commit may still succeed would be the same lie the other way. It takes a round trip; a
broker gone in between aborts the transaction after its timeout, and the answer says so.

A broker without transactions (the embedded one) cannot withdraw a record: the 503 then
says the request may still be applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from hedger.adapters.delivery import (
    DeliveryMode,
    DeliveryUnavailableError,
    renew_producer,
    start_producer,
)
from hedger.adapters.kafka import DeliveryTimeoutError
from hedger.adapters.record_signing import RecordSigner
from hedger.control_codec import control_key, encode_control
from hedger.core.events import ControlEvent

log = logging.getLogger(__name__)

_REPLACE_RETRY_S = 1.0


class _OpenTransactionError(Exception):
    """The request's transaction is open and must never commit."""


class ControlNotPublishedError(Exception):
    """The request was not carried out; `str()` says whether it still may be."""


class ControlPublisher:
    """One control record per request. `transactional_id` None: the broker has no
    transactions, and `shared` (the service's producer) writes the records as they come."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        timeout_s: float,
        signer: RecordSigner | None,
        transactional_id: str | None,
        shared: AIOKafkaProducer,
    ) -> None:
        self._bootstrap, self._topic = bootstrap, topic
        self._timeout_s, self._signer = timeout_s, signer
        self._transactional_id = transactional_id
        self._producer = shared
        self._turn = asyncio.Lock()  # one request (or one replacement) at a time
        self._replacing: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        if self._transactional_id is not None:
            self._producer, _ = await start_producer(
                self._bootstrap, DeliveryMode.EXACTLY_ONCE, self._transactional_id
            )

    async def stop(self) -> None:
        """Stops the producers this publisher made (the shared one is not its to stop)."""
        for task in list(self._replacing):
            task.cancel()
        if self._transactional_id is not None:
            await _quietly_stop(self._producer)

    async def publish(self, event: ControlEvent) -> None:
        """Carried out once this returns; ControlNotPublishedError when not."""
        value, key = encode_control(event), control_key(event).encode()
        headers = None if self._signer is None else [self._signer.header(self._topic, key, value)]
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._turn.acquire()
        except TimeoutError:
            raise ControlNotPublishedError(
                f"not sent: the last refused request is still being withdrawn after"
                f" {self._timeout_s} s (the broker is unreachable)"
            ) from None
        try:
            await self._publish(value, key, headers)
        except _OpenTransactionError as refused:
            # The answer does not wait for the broker: the replacement does, holding the turn.
            self._replace_producer()
            raise ControlNotPublishedError(
                f"{refused}; the request is withdrawn and will not be applied"
            ) from None
        except BaseException:
            self._turn.release()
            raise
        self._turn.release()
        log.warning("control published: %s", event)

    async def _publish(
        self, value: bytes, key: bytes, headers: list[tuple[str, bytes]] | None
    ) -> None:
        transactional = self._transactional_id is not None
        if transactional:
            await self._producer.begin_transaction()
        try:
            async with asyncio.timeout(self._timeout_s):
                await self._producer.send_and_wait(self._topic, value, key=key, headers=headers)
        except (TimeoutError, KafkaError) as error:
            if transactional:
                raise _OpenTransactionError(f"the broker did not acknowledge ({error!r})") from None
            raise ControlNotPublishedError(
                f"the broker did not acknowledge ({error!r}); this broker has no"
                " transactions, so the request may still be applied when it is back"
            ) from None
        if transactional:
            try:
                await self._producer.commit_transaction()
            except KafkaError as error:
                raise _OpenTransactionError(f"the broker refused the commit ({error!r})") from None

    def _replace_producer(self) -> None:
        """Fence the producer whose transaction is open: its successor's start aborts it.
        Holds the turn (taken by the refused request) until the successor is started."""
        task = asyncio.create_task(self._replace(self._producer))
        self._replacing.add(task)
        task.add_done_callback(self._replacing.discard)

    async def _replace(self, retired: AIOKafkaProducer) -> None:
        assert self._transactional_id is not None  # only a transaction is withdrawn
        try:
            while True:
                try:
                    self._producer = await renew_producer(
                        retired,
                        self._bootstrap,
                        self._transactional_id,
                        self._stop_retired,
                        self._timeout_s,
                    )
                    break
                except (DeliveryTimeoutError, DeliveryUnavailableError) as error:
                    log.warning("control producer not replaced yet (%s); retrying", error)
                    await asyncio.sleep(_REPLACE_RETRY_S)
            log.warning("control request withdrawn: its transaction is aborted")
        finally:
            self._turn.release()

    async def _stop_retired(self, stop: Callable[[], Awaitable[None]]) -> None:
        """Fenced, its record is refused; a broker slow to say so does not hold the turn."""
        with contextlib.suppress(TimeoutError, KafkaError):
            async with asyncio.timeout(self._timeout_s):
                await stop()


async def _quietly_stop(producer: AIOKafkaProducer) -> None:
    with contextlib.suppress(KafkaError):
        await producer.stop()
