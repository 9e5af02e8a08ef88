"""Exactly once, while more records wait, a batch decided during the commit of a transaction
holds its records rather than wait for that commit (`CommitSchedule.hold_sends`): they are
sent in order once the next transaction opens (`Outbox.release`), and the batch's offsets
are committed only with them (`CommitSchedule.release_held`).

No broker: the producer, the transaction's commits and the sent batches are stood in for,
and what reaches them is recorded. On a real broker, a catch-up that holds batches sends
what handling each input in turn sends (`tests/integration/test_service_catch_up.py`)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiokafka.errors import MessageSizeTooLargeError
from aiokafka.structs import ConsumerRecord, RecordMetadata, TopicPartition

from hedger.action_sink import ActionSink
from hedger.adapters.commit_schedule import HELD_MAX_RECORDS, AssignmentWatch, CommitSchedule
from hedger.adapters.controls import ControlActions
from hedger.adapters.delivery import DeliveryMode
from hedger.adapters.metrics import Metrics
from hedger.adapters.outbox import Outbox
from hedger.config import Settings
from hedger.core.actions import SubmitHedgeOrder
from hedger.core.events import Side

# A regression here can leave a commit, a send or a release waiting forever (or a commit
# loop that never yields): it fails at the deadline instead of hanging the suite.
pytestmark = pytest.mark.timeout(20)

_PRICES = TopicPartition("prices", 0)


class _Producer:
    """Takes sends and answers each when `answer()` is called; refuses records of `refused`
    topics before sending them, as aiokafka does a record over its size limit."""

    def __init__(self, refused: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, bytes]] = []
        self._refused = refused
        self._futures: list[asyncio.Future[RecordMetadata]] = []

    async def send(self, topic: str, value: bytes, **_: Any) -> asyncio.Future[RecordMetadata]:
        if topic in self._refused:
            raise MessageSizeTooLargeError("too large")
        self.sent.append((topic, value))
        future: asyncio.Future[RecordMetadata] = asyncio.get_running_loop().create_future()
        self._futures.append(future)
        return future

    def answer(self) -> None:
        for offset, future in enumerate(self._futures):
            partition = TopicPartition("orders", 0)
            future.set_result(RecordMetadata("orders", 0, partition, offset, -1, 0, 0))


def _outbox(producer: _Producer, steps: list[str], hold: list[bool]) -> Outbox:
    async def before_send() -> None:
        steps.append("transaction opened")

    return Outbox(
        producer,  # type: ignore[arg-type]
        before_send,
        lambda: hold[0],
        "orders",
        "dlq",
        max_message_bytes=65536,
        send_timeout_s=5.0,
    )


def _order(order_id: str) -> SubmitHedgeOrder:
    return SubmitHedgeOrder(
        order_id, "mm-1", "XYZ", Side.SELL, 100.0, 1, 100.0, "band", 250.0, 0.0, "band", "tick"
    )


def _record(offset: int) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("prices", 0, offset, 0, 0, b"XYZ", b"{", None, 3, 1, [])


async def test_held_records_are_sent_in_order_once_released() -> None:
    steps: list[str] = []
    producer, hold = _Producer(), [True]
    outbox = _outbox(producer, steps, hold)
    await outbox.order(_order("first"), _record(1))
    hold[0] = False  # the commit ended: still held, behind the first
    await outbox.order(_order("second"), _record(2))
    sends = outbox.take()
    assert producer.sent == []
    assert steps == []
    assert outbox.held == 2
    await outbox.release()
    assert steps == ["transaction opened"]
    assert outbox.held == 0
    assert [orjson.loads(value)["order_id"] for _, value in producer.sent] == ["first", "second"]
    producer.answer()
    assert await outbox.settle(sends) == 0
    assert outbox.orders_end == {0: 2}  # each held record answered as its send was


async def test_a_held_dead_letter_the_producer_refuses_is_counted_lost() -> None:
    producer, hold = _Producer(refused=frozenset({"dlq"})), [True]
    outbox = _outbox(producer, [], hold)
    await outbox.dead_letter(_record(7), "bad_json", "not JSON")
    await outbox.order(_order("after"), _record(8))
    sends = outbox.take()
    await outbox.release()
    producer.answer()
    assert await outbox.settle(sends) == 1
    assert [topic for topic, _ in producer.sent] == ["orders"]


class _Commits:
    """Exactly once: each commit waits until the test lets it end."""

    mode = DeliveryMode.EXACTLY_ONCE
    holds_output = False

    def __init__(self, steps: list[str]) -> None:
        self._steps = steps
        self.may_end = asyncio.Event()

    def owners_changed(self) -> None:
        """Nothing kept per owner."""

    async def before_send(self) -> None:
        self._steps.append("transaction opened")

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        await self.may_end.wait()
        self._steps.append(f"committed {sorted(offsets.values())}")


class _SentBatches:
    """Batches with `held` records held back; released through the schedule's `before_send`,
    as `Outbox.release` is."""

    unsettled = False

    def __init__(self, steps: list[str]) -> None:
        self._steps = steps
        self.schedule: CommitSchedule | None = None
        self.held = 0

    async def settle(self) -> None:
        return None

    async def release(self) -> None:
        assert self.schedule is not None
        await self.schedule.before_send()
        self._steps.append("released")
        self.held = 0

    def drop_held(self) -> None:
        self._steps.append("dropped")
        self.held = 0


def _schedule(
    steps: list[str], *, behind: bool, watch: AssignmentWatch | None = None
) -> tuple[CommitSchedule, _Commits, _SentBatches]:
    """`behind`: after each batch more records wait (catching up), or none do (live)."""
    commits, sent = _Commits(steps), _SentBatches(steps)
    watch = watch if watch is not None else AssignmentWatch()
    schedule = CommitSchedule(commits, watch, lambda: behind, time.monotonic, 1.0)
    schedule.commit_after(sent)
    sent.schedule = schedule
    return schedule, commits, sent


async def _let_the_commit_run() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_held_batchs_offsets_are_committed_with_its_records() -> None:
    steps: list[str] = []
    schedule, commits, sent = _schedule(steps, behind=True)  # catching up
    schedule.commit_soon({_PRICES: 10}, now=True)  # batch 1's commit, in flight
    assert schedule.hold_sends()
    sent.held = 1  # batch 2 decided meanwhile: its records held
    schedule.commit_soon({_PRICES: 20})
    await schedule.release_held()  # the commit still in flight: nothing released
    commits.may_end.set()
    await _let_the_commit_run()
    assert steps == ["committed [10]"]  # batch 2's offsets not without its records
    assert not schedule.hold_sends()
    assert schedule.outstanding()
    await schedule.release_held()
    await schedule.drain()
    assert steps == ["committed [10]", "transaction opened", "released", "committed [20]"]
    assert not schedule.outstanding()


async def test_live_a_batch_waits_for_the_commit_rather_than_hold() -> None:
    steps: list[str] = []
    # Nothing more waits: the batch's orders go out now.
    schedule, commits, _ = _schedule(steps, behind=False)
    schedule.commit_soon({_PRICES: 10})
    assert not schedule.hold_sends()
    waiting = asyncio.create_task(schedule.before_send())
    await _let_the_commit_run()
    assert not waiting.done()
    commits.may_end.set()
    await waiting
    assert steps == ["committed [10]", "transaction opened"]


async def test_what_is_held_when_the_partitions_moved_is_never_sent() -> None:
    steps: list[str] = []
    watch = AssignmentWatch()
    schedule, commits, sent = _schedule(steps, behind=False, watch=watch)
    commits.may_end.set()
    sent.held = 1
    schedule.commit_soon({_PRICES: 20})
    watch.changed = True  # the commit in flight found the fill partitions gone
    await schedule.drain()
    assert steps == ["dropped"]
    assert not schedule.outstanding()


async def test_past_the_cap_a_batch_waits_for_the_commit() -> None:
    steps: list[str] = []
    schedule, commits, sent = _schedule(steps, behind=True)
    schedule.commit_soon({_PRICES: 10}, now=True)
    sent.held = HELD_MAX_RECORDS - 1
    await schedule.release_held()
    assert steps == []  # under the cap: still held, the loop goes on
    sent.held = HELD_MAX_RECORDS
    releasing = asyncio.create_task(schedule.release_held())
    await _let_the_commit_run()
    assert not releasing.done()  # at the cap: waits for the commit to end
    commits.may_end.set()
    await releasing
    assert steps == ["committed [10]", "transaction opened", "released"]


class _CrashPoints:
    def __init__(self) -> None:
        self.reached_at: list[str] = []

    def reached(self, point: str) -> None:
        self.reached_at.append(point)


async def test_a_held_batch_settles_and_reaches_sent_only_once_released() -> None:
    producer, hold = _Producer(), [True]
    outbox = _outbox(producer, [], hold)
    metrics, crash = Metrics(), _CrashPoints()
    settings = Settings(kafka_bootstrap="localhost:1")
    sink = ActionSink(metrics, outbox, ControlActions(metrics, outbox, settings), crash)  # type: ignore[arg-type]
    assert await sink.deliver(_record(1), [_order("held")]) == 1
    sink.end_batch()
    assert sink.held == 1
    assert not sink.unsettled  # nothing for the commit to wait on before it is sent
    assert crash.reached_at == ["decided"]
    assert metrics.registry.get_sample_value("hedger_batches_held_total") == 1
    hold[0] = False
    await sink.release()
    assert crash.reached_at == ["decided", "sent"]
    assert sink.unsettled
    producer.answer()
    await sink.settle()
    assert crash.reached_at == ["decided", "sent", "acknowledged"]
    assert not sink.unsettled
