"""The six topics the service needs, as they should be created, and what is wrong with them
as they are found: pure, so `hedger topics create|check` and `hedger run`'s start-up check
share one definition and it is tested with no broker."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping

from hedger.config import Settings

# A record batch of one record carries its value plus ~70 bytes of batch header, record
# framing and a key of a few bytes: room for that above the largest value the service takes.
RECORD_OVERHEAD_BYTES = 1024
# A dead letter is the original value plus headers (reason, detail up to a few hundred bytes,
# source topic, partition, offset): room for them, so any record the inputs admit can be
# dead-lettered.
DEAD_LETTER_HEADROOM_BYTES = 16384
# With three replicas, an acknowledged write survives the loss of any one broker.
MIN_INSYNC_OF_THREE = 2
_SNAPSHOT_SEGMENT_MS = 600_000


@dataclasses.dataclass(frozen=True)
class TopicSpec:
    """One topic as `hedger topics create` makes it."""

    role: str  # what the service uses it for, for messages
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str]


@dataclasses.dataclass(frozen=True)
class FoundTopic:
    """One topic as the broker describes it; `configs` None when the broker would not say."""

    partitions: int
    replication_factor: int  # the smallest replica count of any partition
    configs: Mapping[str, str] | None


def plan_topics(settings: Settings, partitions: int, replication_factor: int) -> list[TopicSpec]:
    """The topics of `settings`, each with `partitions` partitions (fills and orders must
    match: both are keyed by book and a book's state lives on one partition of each)."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    if replication_factor < 1:
        raise ValueError("replication factor must be at least 1")
    input_bytes = settings.max_message_bytes + RECORD_OVERHEAD_BYTES
    min_insync = MIN_INSYNC_OF_THREE if replication_factor >= 3 else 1
    stream = {
        "cleanup.policy": "delete",
        "max.message.bytes": str(input_bytes),
        "min.insync.replicas": str(min_insync),
    }
    roles = [
        ("prices", settings.prices_topic, stream),
        ("fills", settings.fills_topic, stream),
        ("orders", settings.orders_topic, stream),
        (
            "dead letters",
            settings.dlq_topic,
            {**stream, "max.message.bytes": str(input_bytes + DEAD_LETTER_HEADROOM_BYTES)},
        ),
        # State: the last record of each key (a book's latch, a scope's kill switch) is that
        # key's state, so compaction keeps what a restart needs and drops the rest.
        ("control", settings.control_topic, {**stream, "cleanup.policy": "compact"}),
        # A snapshot's chunks and manifest are rewritten under the same keys each time:
        # segments rolled every 10 minutes let compaction drop the old ones (a segment
        # still being written is never compacted).
        (
            "snapshots",
            settings.snapshot_topic,
            {**stream, "cleanup.policy": "compact", "segment.ms": str(_SNAPSHOT_SEGMENT_MS)},
        ),
    ]
    return [
        TopicSpec(role, name, partitions, replication_factor, configs)
        for role, name, configs in roles
    ]


class ProblemKind(enum.Enum):
    MISSING = "missing"  # `hedger run` cannot start
    MISMATCH = "mismatch"  # fills and orders partitioned differently: it cannot start
    WEAKER = "weaker"  # it runs, with less room, safety or durability than planned


# Under ACLs a topic the client's principal may not describe is absent from the metadata.
_OR_NOT_DESCRIBED = " (or this client's principal may not describe it)"


@dataclasses.dataclass(frozen=True)
class TopicProblem:
    line: str
    kind: ProblemKind


def topic_problems(
    specs: list[TopicSpec], found: Mapping[str, FoundTopic], *, strict_partitions: bool
) -> list[TopicProblem]:
    """What is not as planned, one line each (empty when all is).

    Partition counts are compared with the plan only when `strict_partitions` (the user
    named a count); fills and orders must match each other always.
    """
    problems = []
    for spec in specs:
        topic = found.get(spec.name)
        if topic is None:
            line = f"{spec.role} topic {spec.name!r} does not exist" + _OR_NOT_DESCRIBED
            problems.append(TopicProblem(line, ProblemKind.MISSING))
            continue
        lines = _config_problems(spec, topic)
        if strict_partitions and topic.partitions != spec.partitions:
            lines.append(f"has {topic.partitions} partitions, not {spec.partitions}")
        if topic.replication_factor < spec.replication_factor:
            lines.append(
                f"has replication factor {topic.replication_factor}, not {spec.replication_factor}"
            )
        named = f"{spec.role} topic {spec.name!r}"
        problems += [TopicProblem(f"{named} {line}", ProblemKind.WEAKER) for line in lines]
    problems += _partition_mismatch(specs, found)
    return problems


def _partition_mismatch(
    specs: list[TopicSpec], found: Mapping[str, FoundTopic]
) -> list[TopicProblem]:
    names = {spec.role: spec.name for spec in specs}
    fills, orders = found.get(names["fills"]), found.get(names["orders"])
    if fills is None or orders is None or fills.partitions == orders.partitions:
        return []
    line = (
        f"fills topic {names['fills']!r} has {fills.partitions} partitions but orders topic"
        f" {names['orders']!r} has {orders.partitions}: they must match"
    )
    return [TopicProblem(line, ProblemKind.MISMATCH)]


def _config_problems(spec: TopicSpec, topic: FoundTopic) -> list[str]:
    """Where the topic's configs fall short of the plan (numbers: a larger value is fine)."""
    if topic.configs is None:
        return []
    lines = []
    for key, wanted in spec.configs.items():
        value = topic.configs.get(key)
        if value is None:
            continue
        if key in _AT_LEAST and int(value) < int(wanted):
            lines.append(f"has {key}={value}, below {wanted}")
        elif key not in _AT_LEAST and value != wanted:
            lines.append(f"has {key}={value}, not {wanted}")
    return lines


_AT_LEAST = frozenset({"max.message.bytes", "min.insync.replicas"})
