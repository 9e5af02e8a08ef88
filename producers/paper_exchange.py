"""A paper exchange for demos and tests: fills every hedge order, at a cost.

It reads the order topic in the consumer group `paper-exchange` and every partition of the
prices topic from the beginning (manual assignment), keeping the marks per underlying
(mid of bid/ask, or `last`) over event time. Each order fills by the cost model of
`producers.execution`: after a latency, at the mark as of the fill's time (or the order's
`ref_price` when there is none) crossed by a half-spread and a linear price impact, with
a commission per share and per order, in one fill or (optionally) in seeded partial fills.
Fills carry the `order_id` and go to the fills topic keyed by book; order offsets are
committed only after the fills are acknowledged. A restart may refill an order under the
same fill ids, which the hedger ignores as duplicates.

An order waits (up to `mark_wait_ms`) until the exchange has read prices up to the time of
its last fill, so a replay that floods both topics cannot fill it at a stale or future
mark. An order that cannot be decoded is logged and skipped; this tool must not die of bad
input.

    python -m producers.paper_exchange --bootstrap HOST:PORT --half-spread 0.01 --commission 1.0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import CommitFailedError
from aiokafka.structs import ConsumerRecord, TopicPartition

from hedger.adapters.kafka import all_partitions, deliver, make_consumer, make_producer
from hedger.codec import DecodeError, decode_order, decode_price, encode_fill
from hedger.core.events import FillReport, PriceTick
from producers.execution import CostModel, add_cost_arguments, cost_model, plan_fills, price_fill
from producers.marks import MarkHistory

BOOTSTRAP_ENV = "HEDGER_KAFKA_BOOTSTRAP"
_TOPIC_RETRY_S = 2.0
_MAX_PRICE_FETCHES_PER_CYCLE = 100

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PaperExchangeConfig:
    """Where the exchange reads and writes, and how it fills (`costs`)."""

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
    """Fills hedge orders against the latest marks; see the module docstring."""

    def __init__(self, config: PaperExchangeConfig) -> None:
        self.config = config
        self.marks = MarkHistory()
        self.orders_filled = 0
        self.orders_skipped = 0
        self.fees_charged = 0.0
        self.ticks_seen = 0
        self._filled_ids: set[str] = set()
        self._pending: list[ConsumerRecord[bytes, bytes]] = []
        self._prices_ts_ns = 0
        self._waiting_since: float | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Fill orders until `stop` is set, then close the clients within a deadline."""
        config = self.config
        producer = make_producer(config.bootstrap, client_id="paper-exchange")
        prices = make_consumer(config.bootstrap, "paper-exchange-prices", None)
        orders = make_consumer(
            config.bootstrap, "paper-exchange-orders", config.group_id, config.orders_topic
        )
        started: list[AIOKafkaProducer | AIOKafkaConsumer] = []
        try:
            for client in (producer, prices, orders):
                started.append(client)  # stopped even if its start fails half-way
                await client.start()
            if not await self._assign_prices(prices, stop):
                return
            while not stop.is_set():
                await self._cycle(prices, orders, producer)
        finally:
            await self._stop_all(started)

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
        batches = await orders.getmany(timeout_ms=self.config.poll_timeout_ms)
        self._pending.extend(_records(batches))
        # Prices first: the tick that triggered an order is then already in the marks.
        await self._drain_prices(prices)
        ready = self._ready_orders(time.monotonic())
        if not ready:
            return
        fills = self.fills_for(ready)
        await deliver(
            [await producer.send(self.config.fills_topic, value, key=key) for key, value in fills],
            self.config.deliver_timeout_s,
        )
        assigned = orders.assignment()
        offsets = {tp: offset for tp, offset in _next_offsets(ready).items() if tp in assigned}
        try:
            await orders.commit(offsets)
        except CommitFailedError as exc:
            # The orders will be read again and refilled under the same fill ids.
            log.warning("commit failed during a rebalance: %s", exc)

    def _ready_orders(self, now_s: float) -> list[ConsumerRecord[bytes, bytes]]:
        """The pending orders whose time the price feed has reached, or that waited
        `mark_wait_ms` for it: a replay floods prices and orders, and an order must fill at
        the mark as of its own time, not at whatever tick the exchange read last."""
        if self._pending and self._waiting_since is None:
            self._waiting_since = now_s
        waited_ms = 0.0 if self._waiting_since is None else (now_s - self._waiting_since) * 1e3
        count = 0
        for record in self._pending:
            ts_ns = self._last_fill_ts(record)
            reached = ts_ns is None or ts_ns <= self._prices_ts_ns
            if not reached and waited_ms < self.config.mark_wait_ms:
                break
            count += 1
        ready, self._pending = self._pending[:count], self._pending[count:]
        if count:
            self._waiting_since = now_s if self._pending else None
        return ready

    async def _drain_prices(self, prices: AIOKafkaConsumer) -> None:
        # Bounded, so a flood of ticks cannot starve the orders.
        for _ in range(_MAX_PRICE_FETCHES_PER_CYCLE):
            batches = await prices.getmany(timeout_ms=0)
            if not batches:
                return
            self.apply_prices(_records(batches))

    def apply_prices(self, records: Iterable[ConsumerRecord[bytes, bytes]]) -> None:
        """Record the mark of every tick; anything else is ignored."""
        for record in records:
            try:
                event = decode_price(record.value or b"")
            except DecodeError:
                continue  # vols, quotes and bad ticks carry no mark
            if isinstance(event, PriceTick):
                self.marks.record(event.symbol, event.ts_ns, event.mark)
                self._prices_ts_ns = max(self._prices_ts_ns, event.ts_ns)
                self.ticks_seen += 1

    def _last_fill_ts(self, record: ConsumerRecord[bytes, bytes]) -> int | None:
        try:
            order = decode_order(record.value or b"")
        except DecodeError:
            return None  # skipped when its turn comes
        return plan_fills(order, self.config.costs)[-1].ts_ns

    def fills_for(
        self, records: Iterable[ConsumerRecord[bytes, bytes]]
    ) -> list[tuple[bytes, bytes]]:
        """Encoded `(key, value)` fills for the decodable, not yet filled orders."""
        return [
            (fill.book.encode(), encode_fill(fill))
            for record in records
            for fill in self._fills(record)
        ]

    def _fills(self, record: ConsumerRecord[bytes, bytes]) -> list[FillReport]:
        where = f"{record.topic}[{record.partition}]@{record.offset}"
        try:
            order = decode_order(record.value or b"")
        except DecodeError as exc:
            self.orders_skipped += 1
            log.warning("skipping undecodable order at %s: %s", where, exc)
            return []
        if order.order_id in self._filled_ids:
            return []
        costs = self.config.costs
        try:
            fills = [
                price_fill(order, planned, self.marks.at(order.symbol, planned.ts_ns), costs)
                for planned in plan_fills(order, costs)
            ]
        except ValueError as exc:
            self.orders_skipped += 1
            log.warning("cannot fill order at %s: %s", where, exc)
            return []
        self._filled_ids.add(order.order_id)
        self.orders_filled += 1
        self.fees_charged += sum(fill.fee or 0.0 for fill in fills)
        return fills

    async def _stop_all(self, clients: list[AIOKafkaProducer | AIOKafkaConsumer]) -> None:
        for client in reversed(clients):
            try:
                async with asyncio.timeout(self.config.deliver_timeout_s):
                    await client.stop()
            except TimeoutError:
                log.warning("%s did not stop within the deadline", type(client).__name__)


def _next_offsets(records: Iterable[ConsumerRecord[bytes, bytes]]) -> dict[TopicPartition, int]:
    return {TopicPartition(r.topic, r.partition): r.offset + 1 for r in records}


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


async def _serve(exchange: PaperExchange) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await exchange.run(stop)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point: run until SIGINT or SIGTERM; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    exchange = PaperExchange(_config(_parser().parse_args(argv)))
    asyncio.run(_serve(exchange))
    log.info(
        "stopped: %d orders filled, %.2f fees charged, %d skipped",
        exchange.orders_filled,
        exchange.fees_charged,
        exchange.orders_skipped,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
