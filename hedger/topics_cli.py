"""`hedger topics create|check`: the service's six topics on the broker of
HEDGER_KAFKA_BOOTSTRAP, named by the HEDGER_*_TOPIC settings.

`create` makes those that are missing (it never changes a topic that exists) and then checks
them all; `check` only checks. Both print one line per topic and one per problem, and exit 0
when everything is as planned, 1 when something is not, 2 when the broker cannot be asked.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from hedger.adapters.topics import UNREACHABLE, describe_topics, ensure_topics, unreachable_reason
from hedger.config import Settings
from hedger.topic_plan import FoundTopic, TopicSpec, plan_topics, topic_problems

DEFAULT_PARTITIONS = 1
# Enough replicas to lose one broker with no acknowledged write lost, on clusters that have
# three brokers; as many as there are on smaller ones (a local single node gets 1).
PREFERRED_REPLICATION = 3
# Tansu answers for topic configs but keeps data in memory and enforces none of them.
_TANSU_CLUSTER_ID = "tansu_cluster"


def add_topics_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    topics = commands.add_parser(
        "topics",
        help="create or check the service's topics (HEDGER_KAFKA_BOOTSTRAP)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    topics.add_argument("action", choices=("create", "check"))
    topics.add_argument(
        "--partitions",
        type=_positive,
        default=None,
        help=f"partitions of each topic (create: default {DEFAULT_PARTITIONS}; check: any,"
        " with fills = orders)",
    )
    topics.add_argument(
        "--replication-factor",
        type=_positive,
        default=None,
        help=f"replicas of each partition (default: {PREFERRED_REPLICATION}, or every broker"
        " when there are fewer)",
    )


def run_topics(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = settings.require_bootstrap()
    try:
        return asyncio.run(_run(args, settings, bootstrap))
    except UNREACHABLE as error:
        reason = unreachable_reason(error)
        print(f"hedger topics: cannot reach Kafka at {bootstrap}: {reason}", file=sys.stderr)
        return 2
    except ValueError as error:  # a topic that exists with other partitions, met on create
        print(f"hedger topics: {error}", file=sys.stderr)
        return 1


async def _run(args: argparse.Namespace, settings: Settings, bootstrap: str) -> int:
    found, cluster = await describe_topics(bootstrap, settings.topics)
    brokers = len(cluster["brokers"])
    replication = args.replication_factor or min(PREFERRED_REPLICATION, brokers)
    partitions = args.partitions or DEFAULT_PARTITIONS
    specs = plan_topics(settings, partitions, replication)
    created = set()
    if args.action == "create":
        for spec in specs:
            if spec.name not in found:
                await _create(bootstrap, spec)
                created.add(spec.name)
        found, _ = await describe_topics(bootstrap, settings.topics)
    print(f"{len(specs)} topics on {bootstrap} ({brokers} broker{'s' * (brokers != 1)})")
    for spec in specs:
        status = "missing" if spec.name not in found else "exists"
        status = "created" if spec.name in created else status
        print(f"  {status:8} {spec.role:13} {_describe(spec, found.get(spec.name))}")
    return _report(specs, found, cluster, strict_partitions=args.partitions is not None)


async def _create(bootstrap: str, spec: TopicSpec) -> None:
    await ensure_topics(
        bootstrap, [spec.name], spec.partitions, spec.replication_factor, configs=spec.configs
    )


def _describe(spec: TopicSpec, topic: FoundTopic | None) -> str:
    if topic is None:
        return spec.name
    configs = topic.configs or {}
    shown = " ".join(f"{key}={configs[key]}" for key in spec.configs if key in configs)
    replicas = f"replication {topic.replication_factor}"
    return f"{spec.name}  partitions {topic.partitions}  {replicas}  {shown}".rstrip()


def _report(
    specs: list[TopicSpec],
    found: dict[str, FoundTopic],
    cluster: dict[str, Any],
    *,
    strict_partitions: bool,
) -> int:
    if cluster.get("cluster_id") == _TANSU_CLUSTER_ID:
        print(
            "note: this is the embedded broker (Tansu): it records these configs but enforces"
            " none (no compaction, no size limit, no replication), and keeps data in memory"
        )
    problems = topic_problems(specs, found, strict_partitions=strict_partitions)
    for problem in problems:
        print(f"problem: {problem.line}")
    if any(spec.name not in found for spec in specs):
        print("run `hedger topics create` to create the missing topics")
    if not problems:
        print("all topics as planned")
    return 1 if problems else 0


def _positive(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {raw!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value
