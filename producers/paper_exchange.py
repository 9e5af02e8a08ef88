"""A paper exchange for demos and tests: fills hedge orders at a cost, and honours cancels.

It reads the order topic in the consumer group `paper-exchange` and every partition of the
prices topic from the beginning (manual assignment), keeping the marks per underlying
(mid of bid/ask, or `last`) over event time. Each order fills by the cost model of
`producers.execution`: after a latency, at the mark as of the fill's time (or the order's
`ref_price` when there is none) crossed by a half-spread and a linear price impact, with
a commission per share and per order, in one fill or (optionally) in seeded partial fills.
Fills carry the `order_id` and go to the fills topic keyed by book. Orders fill
independently of each other; an order record is committed once it, and every record before
it in its partition, is done (each of its fills acknowledged, or stopped by a cancel). A
restart may refill an order under the same fill ids, which the hedger ignores as duplicates.

Event time: a fill goes once the exchange has read prices up to its time, so a replay that
floods both topics cannot fill it at a stale or future mark. When a fill lies ahead of the
prices and they stand still for `mark_wait_ms` (wall clock), event time is taken to have
reached the earliest planned fill, one step at a time: a feed that stops must not hold fills
for ever. A driver that knows how far the feed has got may say so (`advance_to`).

Cancels, as a venue honours them: a cancel on the order topic (`{"type":"cancel",…}`,
`hedger.control_codec`; a working-order timeout or a kill switch) stops the fills of its
order planned after the cancel's time (event time). Fills at or before it are kept, as the
backtest keeps a fill due at the very time of its order's cancel (`PathRun._fill` looks for
the cancel before firing the timer due at the fill's time), and a fill already sent stays
sent. So that a cancel is never read late by chance, before making fills the exchange reads
the order topic to its end as of after reading the prices that reached their time: every
cancel written before the feed got there is honoured. Records that cannot be decoded are
logged and skipped; this tool must not die of bad input.

    python -m producers.paper_exchange --bootstrap HOST:PORT --half-spread 0.01 --commission 1.0

It runs until SIGTERM (exit status 0) or Ctrl-C (130), then logs what it did; an error stops
it with one line (`--debug`: its traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError, KafkaError
from aiokafka.structs import ConsumerRecord, TopicPartition

from hedger.adapters.kafka import all_partitions, deliver, make_consumer, make_producer, quiet
from hedger.adapters.topics import highwaters
from hedger.codec import encode_fill
from hedger.console import add_debug_argument, run_command, until_signalled
from producers.execution import CostModel, add_cost_arguments, cost_model
from producers.venue import Venue

BOOTSTRAP_ENV = "HEDGER_KAFKA_BOOTSTRAP"
_TOPIC_RETRY_S = 2.0
_MAX_PRICE_FETCHES_PER_CYCLE = 100

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PaperExchangeConfig:
    """Where the exchange reads and writes, how it fills (`costs`), and how long fills
    wait for a feed that stands still (`mark_wait_ms`)."""

    bootstrap: str
    orders_topic: str = "hedger.orders"
    prices_topic: str = "md.prices"
    fills_topic: str = "exec.fills"
    group_id: str = "paper-exchange"
    costs: CostModel = field(default_factory=CostModel)
    poll_timeout_ms: int = 100
    mark_wait_ms: int = 500
    deliver_timeout_s: float = 10.0


class PaperExchange:
    """Fills hedge orders at the marks of their time; see the module docstring."""

    def __init__(
        self, config: PaperExchangeConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config
        self.venue = Venue(config.costs)
        self._clock = clock  # seconds, only for how long the feed has stood still
        self._committed: dict[TopicPartition, int] = {}

    def advance_to(self, ts_ns: int) -> None:
        """Event time has reached `ts_ns` on the word of whoever drives the feed (a test
        that sends it record by record, knowing the next one's time): fills up to it go
        without waiting for a tick, after the cancels written so far are read."""
        self.venue.reach(ts_ns)

    async def run(self, stop: asyncio.Event) -> None:
        """Fill orders until `stop` is set, then close the clients within a deadline."""
        config = self.config
        producer = make_producer(config.bootstrap, client_id="paper-exchange")
        prices = make_consumer(config.bootstrap, "paper-exchange-prices", None)
        orders = make_consumer(
            config.bootstrap, "paper-exchange-orders", config.group_id, config.orders_topic
        )
        clients: list[AIOKafkaProducer | AIOKafkaConsumer] = [producer, prices, orders]
        try:
            if not await _started(clients, stop):
                return
            if not await self._assign_prices(prices, stop):
                return
            while not stop.is_set():
                await self._cycle(prices, orders, producer)
        finally:
            # Every one, even those a failed start left unstarted: aiokafka logs an error
            # for a client it finds unclosed.
            await self._stop_all(clients)

    async def _assign_prices(self, prices: AIOKafkaConsumer, stop: asyncio.Event) -> bool:
        """Read every partition of the prices topic from the start, once the topic exists."""
        while not stop.is_set():
            try:
                partitions = await all_partitions(prices, self.config.prices_topic)
            except LookupError as exc:
                log.warning("%s; retrying in %.0f s", exc, _TOPIC_RETRY_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), _TOPIC_RETRY_S)
                continue
            prices.assign(partitions)
            await prices.seek_to_beginning(*partitions)
            return True
        return False

    async def _cycle(
        self, prices: AIOKafkaConsumer, orders: AIOKafkaConsumer, producer: AIOKafkaProducer
    ) -> None:
        venue = self.venue
        venue.take_orders(_records(await orders.getmany(timeout_ms=self.config.poll_timeout_ms)))
        # Prices first: the tick that triggered an order is then already in the marks.
        await self._drain_prices(prices)
        venue.stand_still(self._clock(), self.config.mark_wait_ms / 1e3)
        # Taken now: the order topic, read to its end below, then holds every cancel
        # written before the feed got this far.
        reached_ns = venue.reached_ns
        upcoming = venue.next_fill_ns()
        if upcoming is not None and upcoming <= reached_ns:
            await self._read_to_end(orders, self.config.orders_topic, venue.take_orders)
            if reached_ns > venue.prices_ns:
                # Event time moved on without a tick (told so, or the feed stood still):
                # the ticks already written must be in the marks.
                await self._read_to_end(prices, self.config.prices_topic, venue.apply_prices)
            fills = venue.fills_due(reached_ns)
            await deliver(
                [
                    await producer.send(
                        self.config.fills_topic, encode_fill(fill), key=fill.book.encode()
                    )
                    for fill in fills
                ],
                self.config.deliver_timeout_s,
            )
        await self._commit(orders)

    async def _commit(self, orders: AIOKafkaConsumer) -> None:
        """Commit the order records done (their fills acknowledged), when that moved on."""
        assigned = orders.assignment()
        offsets = {
            tp: offset
            for tp, offset in self.venue.finished().items()
            if tp in assigned and offset > self._committed.get(tp, 0)
        }
        if not offsets:
            return
        try:
            await orders.commit(offsets)
        except CommitFailedError as exc:
            # The orders will be read again and refilled under the same fill ids.
            log.warning("commit failed during a rebalance: %s", exc)
            return
        self._committed.update(offsets)

    async def _read_to_end(
        self,
        consumer: AIOKafkaConsumer,
        topic: str,
        take: Callable[[list[ConsumerRecord[bytes, bytes]]], None],
    ) -> None:
        """Hand `take` every record of `topic` on the consumer's partitions up to the
        topic's end as of now; on a broker that cannot tell its end, or let it be read in
        time, log and go on."""
        config = self.config
        try:
            ends = await highwaters(config.bootstrap, topic)
            async with asyncio.timeout(config.deliver_timeout_s):
                behind = {tp: ends.get(tp.partition, 0) for tp in consumer.assignment()}
                while behind:
                    for tp, end in list(behind.items()):
                        if tp not in consumer.assignment() or await consumer.position(tp) >= end:
                            del behind[tp]
                    if behind:
                        batches = await consumer.getmany(*behind, timeout_ms=config.poll_timeout_ms)
                        take(_records(batches))
        except (TimeoutError, ValueError, KafkaError) as exc:
            log.warning("going on without reading %s to its end: %r", topic, exc)

    async def _drain_prices(self, prices: AIOKafkaConsumer) -> None:
        # Bounded, so a flood of ticks cannot starve the orders.
        for _ in range(_MAX_PRICE_FETCHES_PER_CYCLE):
            batches = await prices.getmany(timeout_ms=0)
            if not batches:
                return
            self.venue.apply_prices(_records(batches))

    async def _stop_all(self, clients: list[AIOKafkaProducer | AIOKafkaConsumer]) -> None:
        for client in reversed(clients):
            try:
                async with asyncio.timeout(self.config.deliver_timeout_s):
                    await client.stop()
            except TimeoutError:
                log.warning("%s did not stop within the deadline", type(client).__name__)


async def _started(clients: list[AIOKafkaProducer | AIOKafkaConsumer], stop: asyncio.Event) -> bool:
    """Start `clients`; False if `stop` is set first (a broker that accepts connections but
    never answers would otherwise hold a Ctrl-C until aiokafka's request timeout)."""

    async def start_all() -> None:
        # aiokafka logs a broker that does not answer; the command line says it once.
        with quiet(logging.getLogger("aiokafka")):
            for client in clients:
                await client.start()

    starting, stopping = asyncio.create_task(start_all()), asyncio.create_task(stop.wait())
    await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not starting.done():
        starting.cancel()
        await asyncio.gather(starting, return_exceptions=True)
        return False
    starting.result()  # raises the start's error, if it had one
    return True


def _records(
    batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]],
) -> list[ConsumerRecord[bytes, bytes]]:
    # Partition order is arbitrary; within a partition the records stay in offset order.
    return [record for tp in sorted(batches) for record in batches[tp]]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producers.paper_exchange",
        description="Fill hedge orders at the mark of their time, at a cost (a demo exchange).",
    )
    parser.add_argument("--bootstrap", help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV})")
    parser.add_argument("--orders-topic", default="hedger.orders")
    parser.add_argument("--prices-topic", default="md.prices")
    parser.add_argument("--fills-topic", default="exec.fills")
    parser.add_argument("--group-id", default="paper-exchange")
    add_cost_arguments(parser)
    add_debug_argument(parser)
    return parser


def _config(args: argparse.Namespace) -> PaperExchangeConfig:
    bootstrap = args.bootstrap or os.environ.get(BOOTSTRAP_ENV, "").strip()
    if not bootstrap:
        raise SystemExit(
            f"paper_exchange: no broker given; pass --bootstrap or set {BOOTSTRAP_ENV}"
        )
    try:
        return PaperExchangeConfig(
            bootstrap=bootstrap,
            orders_topic=args.orders_topic,
            prices_topic=args.prices_topic,
            fills_topic=args.fills_topic,
            group_id=args.group_id,
            costs=cost_model(args),
        )
    except ValueError as exc:
        raise SystemExit(f"paper_exchange: {exc}") from None


async def _serve(exchange: PaperExchange) -> int:
    stop = until_signalled()
    await exchange.run(stop)
    log.info(
        "stopped: %d orders filled, %d cancelled, %.2f fees charged, %d skipped",
        exchange.venue.orders_filled,
        exchange.venue.orders_cancelled,
        exchange.venue.fees_charged,
        exchange.venue.orders_skipped,
    )
    return stop.exit_status


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: run until SIGINT or SIGTERM; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # aiokafka's INFO lines are routine (subscriptions, group rebalances).
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    args = _parser().parse_args(argv)
    exchange = PaperExchange(_config(args))
    return run_command(
        "paper_exchange",
        lambda: asyncio.run(_serve(exchange)),
        debug=args.debug,
        bootstrap=exchange.config.bootstrap,
    )


if __name__ == "__main__":
    raise SystemExit(main())
