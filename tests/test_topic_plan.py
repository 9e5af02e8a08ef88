"""hedger.topic_plan: the topics as `hedger topics create` makes them, and what `check` and
`hedger run` find wrong with topics as a broker describes them. No broker."""

from __future__ import annotations

import dataclasses

import pytest

from hedger.config import Settings
from hedger.topic_plan import FoundTopic, ProblemKind, TopicSpec, plan_topics, topic_problems

SETTINGS = Settings(max_message_bytes=65536)


def _as_found(spec: TopicSpec, **changes: object) -> FoundTopic:
    found = FoundTopic(spec.partitions, spec.replication_factor, dict(spec.configs))
    return dataclasses.replace(found, **changes)


def _all_found(specs: list[TopicSpec]) -> dict[str, FoundTopic]:
    return {spec.name: _as_found(spec) for spec in specs}


def _by_role(specs: list[TopicSpec]) -> dict[str, TopicSpec]:
    return {spec.role: spec for spec in specs}


def test_plan_names_the_five_topics_of_the_settings_with_one_partition_count():
    specs = plan_topics(SETTINGS, 6, 3)
    assert [spec.name for spec in specs] == SETTINGS.topics
    assert {spec.partitions for spec in specs} == {6}
    assert {spec.replication_factor for spec in specs} == {3}


def test_plan_compacts_the_control_and_snapshot_topics_and_only_them():
    policies = {
        role: spec.configs["cleanup.policy"]
        for role, spec in _by_role(plan_topics(SETTINGS, 1, 1)).items()
    }
    assert policies == {
        "prices": "delete",
        "fills": "delete",
        "orders": "delete",
        "dead letters": "delete",
        "control": "compact",
        "snapshots": "compact",
    }


def test_plan_admits_the_largest_accepted_message_and_dead_letters_it_with_headers():
    roles = _by_role(plan_topics(SETTINGS, 1, 1))
    largest = {role: int(spec.configs["max.message.bytes"]) for role, spec in roles.items()}
    for role in ("prices", "fills", "control"):
        assert largest[role] > 65536  # the value plus its record framing
    assert largest["dead letters"] > largest["prices"] + 1024  # and its reason headers


@pytest.mark.parametrize(("replicas", "min_insync"), [(1, "1"), (2, "1"), (3, "2"), (5, "2")])
def test_plan_requires_two_in_sync_replicas_once_there_are_three(replicas, min_insync):
    specs = plan_topics(SETTINGS, 1, replicas)
    assert {spec.configs["min.insync.replicas"] for spec in specs} == {min_insync}


@pytest.mark.parametrize(("partitions", "replicas"), [(0, 1), (1, 0)])
def test_plan_refuses_counts_below_one(partitions, replicas):
    with pytest.raises(ValueError, match="at least 1"):
        plan_topics(SETTINGS, partitions, replicas)


def test_topics_as_planned_have_no_problem():
    specs = plan_topics(SETTINGS, 3, 3)
    assert topic_problems(specs, _all_found(specs), strict_partitions=True) == []


def test_a_missing_topic_is_a_problem_that_stops_the_service():
    specs = plan_topics(SETTINGS, 1, 1)
    found = _all_found(specs)
    del found[SETTINGS.control_topic]
    (problem,) = topic_problems(specs, found, strict_partitions=False)
    assert problem.kind is ProblemKind.MISSING
    assert problem.line == (
        "control topic 'hedger.control' does not exist"
        " (or this client's principal may not describe it)"
    )


def test_fills_and_orders_partitioned_differently_stop_the_service_even_when_not_strict():
    specs = plan_topics(SETTINGS, 2, 1)
    found = _all_found(specs)
    found[SETTINGS.orders_topic] = _as_found(_by_role(specs)["orders"], partitions=3)
    (problem,) = topic_problems(specs, found, strict_partitions=False)
    assert problem.kind is ProblemKind.MISMATCH
    assert problem.line == (
        "fills topic 'exec.fills' has 2 partitions but orders topic 'hedger.orders' has 3:"
        " they must match"
    )


def test_other_partition_counts_are_problems_only_when_a_count_was_named():
    specs = plan_topics(SETTINGS, 2, 1)
    found = {spec.name: _as_found(spec, partitions=4) for spec in specs}
    assert topic_problems(specs, found, strict_partitions=False) == []
    problems = topic_problems(specs, found, strict_partitions=True)
    assert len(problems) == 6
    assert {problem.kind for problem in problems} == {ProblemKind.WEAKER}


def test_weaker_configs_and_fewer_replicas_are_named_and_do_not_stop_the_service():
    specs = plan_topics(SETTINGS, 1, 3)
    roles = _by_role(specs)
    found = _all_found(specs)
    control = roles["control"]
    found[control.name] = _as_found(
        control, configs={**control.configs, "cleanup.policy": "delete"}
    )
    prices = roles["prices"]
    found[prices.name] = _as_found(
        prices, replication_factor=1, configs={**prices.configs, "max.message.bytes": "1000"}
    )
    lines = sorted(p.line for p in topic_problems(specs, found, strict_partitions=False))
    assert lines == [
        "control topic 'hedger.control' has cleanup.policy=delete, not compact",
        "prices topic 'md.prices' has max.message.bytes=1000, below 66560",
        "prices topic 'md.prices' has replication factor 1, not 3",
    ]


def test_larger_limits_than_planned_are_fine():
    specs = plan_topics(SETTINGS, 1, 3)
    found = {
        spec.name: _as_found(
            spec,
            configs={**spec.configs, "max.message.bytes": "10485760", "min.insync.replicas": "3"},
        )
        for spec in specs
    }
    assert topic_problems(specs, found, strict_partitions=True) == []


def test_a_broker_that_gives_no_configs_is_judged_on_partitions_and_replicas_only():
    specs = plan_topics(SETTINGS, 1, 1)
    found = {spec.name: _as_found(spec, configs=None) for spec in specs}
    assert topic_problems(specs, found, strict_partitions=True) == []
