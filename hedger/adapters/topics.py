"""Topic creation and end offsets, correct on Kafka and on the embedded Tansu broker."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError, for_code

from hedger.adapters.kafka import all_partitions, quiet, security_options, start_explained
from hedger.topic_plan import FoundTopic

log = logging.getLogger(__name__)

_METADATA_POLL_INTERVAL_S = 0.05
# What `describe_topics` raises when the broker cannot be asked.
UNREACHABLE = (KafkaError, OSError, TimeoutError)


async def ensure_topics(
    bootstrap: str,
    names: Iterable[str],
    partitions: int = 1,
    replication_factor: int = 1,
    *,
    configs: Mapping[str, str] | None = None,
    timeout_s: float = 30.0,
) -> None:
    """Create the missing topics (with `configs`, when given) and return once metadata shows
    all of them ready.

    Raises `ValueError` if a topic already exists with another partition count, and
    `TimeoutError` naming what is still missing if `timeout_s` passes first.
    """
    wanted = sorted(set(names))
    if not wanted:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security_options())
    not_ready = dict.fromkeys(wanted, "not created yet")
    try:
        async with asyncio.timeout(timeout_s):
            await start_explained(admin.start, bootstrap)
            new_topics = [
                NewTopic(name, partitions, replication_factor, topic_configs=dict(configs or {}))
                for name in wanted
            ]
            await _create_topics(admin, new_topics)
            while True:  # metadata is eventually consistent: poll it
                not_ready = await _topics_not_ready(admin, wanted, partitions)
                if not not_ready:
                    return
                await asyncio.sleep(_METADATA_POLL_INTERVAL_S)
    except TimeoutError as error:
        raise TimeoutError(
            f"topics not ready on {bootstrap} after {timeout_s}s: {not_ready}"
        ) from error
    finally:
        await admin.close()


async def _create_topics(admin: AIOKafkaAdminClient, new_topics: list[NewTopic]) -> None:
    # aiokafka does not raise for per-topic errors: they come back as codes.
    response = await admin.create_topics(new_topics)
    for result in response.to_object()["topic_errors"]:
        error_code = result["error_code"]
        if error_code not in (0, TopicAlreadyExistsError.errno):
            message = result.get("error_message") or ""
            raise for_code(error_code)(f"creating topic {result['topic']!r}: {message}")


async def _topics_not_ready(
    admin: AIOKafkaAdminClient, names: list[str], partitions: int
) -> dict[str, str]:
    # This metadata request may auto-create topics on brokers that allow it, which is
    # harmless here: every name was created (or found) just before.
    described = {topic["topic"]: topic for topic in await admin.describe_topics(names)}
    not_ready = {}
    for name in names:
        reason = _not_ready_reason(described.get(name), partitions)
        if reason is not None:
            not_ready[name] = reason
    return not_ready


def _not_ready_reason(topic: dict[str, Any] | None, partitions: int) -> str | None:
    if topic is None:
        return "absent from metadata"
    if topic["error_code"]:
        return str(for_code(topic["error_code"]).__name__)
    found = topic["partitions"]
    if not found:
        return "no partitions yet"
    if len(found) != partitions:
        raise ValueError(
            f"topic {topic['topic']!r} exists with {len(found)} partitions, not {partitions}"
        )
    if any(partition["leader"] < 0 for partition in found):
        return "partition leaders not elected yet"
    return None


# Per request, for the short-lived clients that ask one thing and close: under the callers'
# own deadlines (10 s), so a second bootstrap server gets its turn.
_BOOTSTRAP_REQUEST_TIMEOUT_MS = 5000


async def describe_topics(
    bootstrap: str, names: Iterable[str], *, timeout_s: float = 10.0
) -> tuple[dict[str, FoundTopic], dict[str, Any]]:
    """How the broker has those of `names` that exist, and the cluster's description
    (`brokers`, `cluster_id`). Raises one of `UNREACHABLE` when the broker cannot be asked
    (`TimeoutError` after `timeout_s`); `unreachable_reason` says it in a few words. A
    broker that answers but refuses this client's credentials or certificate raises
    `KafkaRefusedError` (one of `UNREACHABLE` too) saying so: retrying will not help."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap,
        request_timeout_ms=_BOOTSTRAP_REQUEST_TIMEOUT_MS,
        **security_options(),
    )
    # aiokafka logs every refused connection at ERROR; the caller reports it once.
    with quiet(logging.getLogger("aiokafka")):
        try:
            async with asyncio.timeout(timeout_s):
                await start_explained(admin.start, bootstrap)
                # Metadata of every topic: asking for `names` alone auto-creates them on Tansu.
                wanted = set(names)
                topics = await admin.describe_topics()
                described = {t["topic"]: t for t in topics if t["topic"] in wanted}
                configs = await _topic_configs(admin, sorted(described))
                cluster = await admin.describe_cluster()
        finally:
            await admin.close()
    found = {
        name: FoundTopic(
            partitions=len(topic["partitions"]),
            replication_factor=min((len(p["replicas"]) for p in topic["partitions"]), default=0),
            configs=configs.get(name),
        )
        for name, topic in described.items()
    }
    return found, cluster


def unreachable_reason(error: BaseException) -> str:
    if isinstance(error, KafkaConnectionError):
        return "no broker answered"
    if isinstance(error, TimeoutError):
        return "no answer in time"
    return str(error) or type(error).__name__


async def _topic_configs(admin: AIOKafkaAdminClient, names: list[str]) -> dict[str, dict[str, str]]:
    """Each topic's configs; a topic whose configs the broker would not give is left out."""
    if not names:
        return {}
    resources = [ConfigResource(ConfigResourceType.TOPIC, name) for name in names]
    configs, refused = {}, {}
    for response in await admin.describe_configs(resources):
        for resource in response.to_object()["resources"]:
            if resource["error_code"] == 0:
                configs[resource["resource_name"]] = {
                    entry["config_names"]: entry["config_value"]
                    for entry in resource["config_entries"]
                }
            else:
                refused[resource["resource_name"]] = for_code(resource["error_code"]).__name__
    if refused:
        # Under ACLs: DescribeConfigs not granted. The check goes on without them.
        log.warning(
            "the broker would not give the configs of %s: their compaction and size limits"
            " are not checked",
            ", ".join(f"{name!r} ({error})" for name, error in sorted(refused.items())),
        )
    return configs


async def highwaters(bootstrap: str, topic: str, *, timeout_s: float = 10.0) -> dict[int, int]:
    """The next offset to be written, per partition of `topic` (0 for an empty partition).

    Raises `ValueError` for an unknown topic and `TimeoutError` after `timeout_s`.
    """
    # Not `end_offsets()`: Tansu answers ListOffsets(latest) with the base offset of the
    # last batch + 1, which is short by n - 1 when that batch holds n records (the same
    # bug breaks `seek_to_end()` and auto_offset_reset="latest"). The high watermark in a
    # Fetch response is right on Tansu and on Kafka, but aiokafka only learns it from a
    # fetch: so assign every partition, fetch once from the beginning, and read it.
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=50,
        # A bootstrap server that accepts the connection but never answers (a frozen node)
        # is given up on in time to ask the next before `timeout_s` (aiokafka: 40 s each).
        request_timeout_ms=_BOOTSTRAP_REQUEST_TIMEOUT_MS,
        **security_options(),
    )
    try:
        async with asyncio.timeout(timeout_s):
            await start_explained(consumer.start, bootstrap)
            return await _fetched_highwaters(consumer, topic)
    finally:
        await consumer.stop()


async def _fetched_highwaters(consumer: AIOKafkaConsumer, topic: str) -> dict[int, int]:
    try:  # metadata of every topic: asking for `topic` alone could auto-create it
        assigned = await all_partitions(consumer, topic)
    except LookupError as error:
        raise ValueError(f"unknown topic {topic!r}") from error
    consumer.assign(assigned)
    await consumer.seek_to_beginning(*assigned)
    while any(consumer.highwater(partition) is None for partition in assigned):
        await consumer.getmany(*assigned, timeout_ms=50)
    return {partition.partition: consumer.highwater(partition) for partition in assigned}
