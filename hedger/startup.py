"""What `hedger run` checks before it starts its Kafka clients: a broker that answers within
HEDGER_BROKER_WAIT_S, and the six topics there, with fills and orders partitioned alike.

Checked with one admin client, so a wrong address or a missing topic stops the service with
one line (`StartupError`) instead of clients half started, failing later and less clearly.
A broker that refuses the service's credentials or certificate stops it at once, unretried.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from hedger.adapters.kafka_security import KafkaRefusedError
from hedger.adapters.topics import UNREACHABLE, describe_topics, unreachable_reason
from hedger.config import Settings
from hedger.topic_plan import FoundTopic, ProblemKind, plan_topics, topic_problems

log = logging.getLogger(__name__)

_FIRST_RETRY_S = 0.5
_LONGEST_RETRY_S = 5.0
_ATTEMPT_TIMEOUT_S = 10.0


class StartupError(Exception):
    """Why `hedger run` cannot start, in one line for the person who started it."""


async def check_broker_and_topics(
    settings: Settings, note: Callable[[str], None], stop: asyncio.Event
) -> bool:
    """True once the broker answers and the topics are fit to run on, False if `stop` is
    set while it waits; `note` is told why it waits (for /readyz). Raises `StartupError`."""
    found = await _describe_when_reachable(settings, note, stop)
    if found is None:
        return False
    problems = topic_problems(plan_topics(settings, 1, 1), found, strict_partitions=False)
    missing = [p.line for p in problems if p.kind is ProblemKind.MISSING]
    if missing:
        raise StartupError(f"{'; '.join(missing)}: run `hedger topics create`")
    mismatched = [p.line for p in problems if p.kind is ProblemKind.MISMATCH]
    if mismatched:
        raise StartupError(f"{'; '.join(mismatched)} (see `hedger topics check`)")
    for problem in problems:
        log.warning("topic check: %s (see `hedger topics check`)", problem.line)
    return True


async def _describe_when_reachable(
    settings: Settings, note: Callable[[str], None], stop: asyncio.Event
) -> dict[str, FoundTopic] | None:
    bootstrap = settings.require_bootstrap()
    deadline = time.monotonic() + settings.broker_wait_s
    retry_s = _FIRST_RETRY_S
    while True:
        try:
            found, _ = await describe_topics(
                bootstrap, settings.topics, timeout_s=_ATTEMPT_TIMEOUT_S
            )
            return found
        except KafkaRefusedError as error:  # wrong credentials or CA: no retry mends them
            raise StartupError(str(error)) from None
        except UNREACHABLE as error:
            reason = unreachable_reason(error)
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise StartupError(
                    f"cannot reach Kafka at {bootstrap} ({reason}) after"
                    f" {settings.broker_wait_s:g} s (HEDGER_BROKER_WAIT_S): is the broker up,"
                    " HEDGER_KAFKA_BOOTSTRAP its address, and HEDGER_KAFKA_SECURITY_PROTOCOL"
                    f"={settings.kafka_security_protocol} what that listener speaks?"
                ) from None
            note(f"broker unreachable at {bootstrap} ({reason}), retrying for {left_s:.0f} s")
            log.warning(
                "broker unreachable at %s (%s); retrying in %.1f s", bootstrap, reason, retry_s
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(retry_s, left_s))
                return None
            retry_s = min(retry_s * 2, _LONGEST_RETRY_S)
