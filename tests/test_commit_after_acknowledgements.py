"""A batch's offsets are committed only once the records it sent are acknowledged, while the
loop goes on with the next batches (`CommitSchedule.commit_after`, `ActionSink.settle`).

The service's own parts stand in for the broker's answers here: the sent batches settle
when the test says, and the commits are recorded. The real broker's side of it (a crash
after sending, after the acknowledgement, before the commit) is
`tests/integration/test_crash_points.py`; this is the order of the two steps."""

from __future__ import annotations

import asyncio
import time

import pytest
from aiokafka.structs import TopicPartition

from hedger.adapters.commit_schedule import AssignmentWatch, CommitSchedule
from hedger.adapters.delivery import DeliveryMode

# A regression here can leave a commit, a send or a release waiting forever (or a commit
# loop that never yields): it fails at the deadline instead of hanging the suite.
pytestmark = pytest.mark.timeout(20)

_PRICES = TopicPartition("prices", 0)


class _SentBatches:
    """Batches whose records the broker answers when `answer()` is called."""

    held = 0  # nothing held back: at least once never holds

    def __init__(self, steps: list[str]) -> None:
        self._steps = steps
        self._answered = asyncio.Event()
        self.waiting = 0

    @property
    def unsettled(self) -> bool:
        return self.waiting > 0

    def answer(self) -> None:
        self._answered.set()

    async def settle(self) -> None:
        if self.waiting:
            await self._answered.wait()
            self._steps.append(f"acknowledged {self.waiting}")
            self.waiting = 0

    async def release(self) -> None:
        return None

    def drop_held(self) -> None:
        return None


class _Commits:
    mode = DeliveryMode.AT_LEAST_ONCE
    holds_output = False

    def __init__(self, steps: list[str]) -> None:
        self._steps = steps

    def owners_changed(self) -> None:
        """Nothing kept per owner."""

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self._steps.append(f"committed {sorted(offsets.values())}")


def _schedule(steps: list[str]) -> tuple[CommitSchedule, _SentBatches]:
    """Live: nothing more waits after a batch."""
    schedule = CommitSchedule(
        _Commits(steps), AssignmentWatch(), lambda: False, time.monotonic, shutdown_timeout_s=1.0
    )
    sent = _SentBatches(steps)
    schedule.commit_after(sent)
    return schedule, sent


async def _let_the_commit_run() -> None:
    for _ in range(10):
        await asyncio.sleep(0)


async def test_offsets_wait_for_the_batches_acknowledgements() -> None:
    steps: list[str] = []
    schedule, sent = _schedule(steps)
    sent.waiting = 2  # two batches ended, their records not yet answered
    schedule.commit_soon({_PRICES: 40}, now=True)
    await _let_the_commit_run()
    assert steps == []  # nothing committed while the records are unanswered
    assert schedule.outstanding()  # `caught_up` is not yet
    sent.answer()
    await schedule.drain()
    assert steps == ["acknowledged 2", "committed [40]"]
    assert not schedule.outstanding()


async def test_records_sent_without_offsets_are_settled_too() -> None:
    """A batch of control records only (a cancel, a latch): no offsets, still waited for."""
    steps: list[str] = []
    schedule, sent = _schedule(steps)
    sent.waiting = 1
    sent.answer()
    schedule.commit_soon({}, now=True)
    await schedule.drain()
    assert steps == ["acknowledged 1", "committed []"]
