"""docker-compose.yml checked without a Docker engine: docker-compose's own validation, then
the images, commands, settings, ports, healthchecks and mounts it relies on."""

from __future__ import annotations

import dataclasses
import importlib
import os
import re
import subprocess
import tomllib
from collections.abc import Mapping
from typing import Any

import pytest
import yaml

from hedger.config import Settings
from tests.ops.tools import COMPOSE_FILE, REPO, tool

HEDGER_IMAGE = "hedger:local"
UPSTREAM_IMAGES = {"apache/kafka", "prom/prometheus", "grafana/grafana"}
# Deliberately not the service's defaults, each for a reason given in the compose file.
COMPOSE_OWN_VALUES = {
    "HEDGER_KAFKA_BOOTSTRAP": "kafka:19092",
    "HEDGER_INSTANCE_ID": "hedger-1",
    "HEDGER_METRICS_PORT": "9108",
    "HEDGER_HTTP_HOST": "0.0.0.0",  # inside the compose network; the host port is loopback
}
# Services with no endpoint to check: the paper exchange serves no HTTP, replay is one-shot.
WITHOUT_HEALTHCHECK = {"paper-exchange", "replay", "topic-init"}
_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_DEFAULTED = re.compile(r"([A-Z][A-Z0-9_]*):-(.*)")


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load(COMPOSE_FILE.read_text()))


def services() -> dict[str, dict[str, Any]]:
    return dict(compose()["services"])


def interpolate(value: Any, variables: Mapping[str, str] | None = None) -> Any:
    """`value` as compose gives it: every `${VAR:-default}` -> VAR's value in `variables`
    (a user's `.env` or shell) when it is set and not empty, else the default (no variable
    set by default)."""
    if isinstance(value, list):
        return [interpolate(item, variables) for item in value]
    return _REFERENCE.sub(lambda reference: _value(reference, variables or {}), str(value))


def _value(reference: re.Match[str], variables: Mapping[str, str]) -> str:
    defaulted = _DEFAULTED.fullmatch(reference.group(1))
    assert defaulted, f"${{{reference.group(1)}}} has no default"
    name, default = defaulted.groups()
    return variables.get(name) or default


def interpolate_mapping(
    mapping: dict[str, Any], variables: Mapping[str, str] | None = None
) -> list[tuple[str, Any]]:
    return [(key, interpolate(value, variables)) for key, value in mapping.items()]


def setting_variables() -> dict[str, str]:
    """Each variable the hedger reads, with its default as the service would print it."""
    defaults = Settings()
    variables = {}
    for setting in dataclasses.fields(Settings):
        value = getattr(defaults, setting.name)
        if isinstance(value, frozenset):
            value = ",".join(sorted(value))
        elif hasattr(value, "strftime"):
            value = value.strftime("%H:%M")
        variables[setting.metadata["env"]] = "" if value is None else str(value)
    return variables


def argv(service: dict[str, Any], variables: Mapping[str, str] | None = None) -> list[str]:
    """The command line a container of the hedger image runs (ENTRYPOINT ["hedger"])."""
    entrypoint = service.get("entrypoint", ["hedger"])
    command = interpolate([*entrypoint, *service.get("command", [])], variables)
    return [str(part) for part in command]


def test_compose_file_passes_docker_compose_config_validation() -> None:
    result = subprocess.run(
        [tool("docker-compose", "docker-compose"), "-f", str(COMPOSE_FILE), "config", "-q"],
        cwd=REPO,
        env={"PATH": os.environ["PATH"]},  # no HEDGER_* of this shell: the defaults only
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_compose_every_variable_reference_has_a_default() -> None:
    references = _REFERENCE.findall(COMPOSE_FILE.read_text())
    assert references
    assert [r for r in references if not _DEFAULTED.fullmatch(r)] == []


def test_compose_images_are_this_repo_build_or_pinned_upstream_images() -> None:
    for name, service in services().items():
        image = service["image"]
        if "build" in service:
            assert (name, image, service["build"]) == (name, HEDGER_IMAGE, ".")
            assert (REPO / "Dockerfile").is_file()
        else:
            repository, tag = image.rsplit(":", 1)
            assert repository in UPSTREAM_IMAGES, name
            assert tag not in {"latest", ""}, name


def test_compose_hedger_runs_the_hedger_entry_point() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert argv(services()["hedger"]) == ["hedger", "run"]
    assert scripts["hedger"] == "hedger.cli:main"


@pytest.mark.parametrize("name", ["paper-exchange", "replay"])
def test_compose_producer_command_is_accepted_by_the_module_parser(name: str) -> None:
    python, flag, module, *args = argv(services()[name])
    assert (python, flag) == ("python", "-m")
    # The modules' own argument parsers are the authority on their command lines.
    parser = importlib.import_module(module)._parser()
    parsed = parser.parse_args(args)
    assert parsed.prices_topic == "md.prices"


def test_compose_replay_file_exists_under_its_mounted_directory() -> None:
    replay = services()["replay"]
    (volume,) = interpolate(replay["volumes"])
    source, target, _ = volume.split(":")
    feed = argv(replay)[3]
    assert feed.startswith(target + "/")
    assert (REPO / source / feed.removeprefix(target + "/")).is_file()


def test_compose_hedger_sets_every_setting_with_a_valid_value() -> None:
    environment = {k: str(v) for k, v in interpolate_mapping(services()["hedger"]["environment"])}
    expected = setting_variables() | COMPOSE_OWN_VALUES
    assert environment == expected
    settings = Settings.from_env(environment)
    assert settings.require_bootstrap() == "kafka:19092"


def test_compose_topic_init_creates_every_topic_the_hedger_uses() -> None:
    init, hedger = services()["topic-init"], services()["hedger"]
    assert init["image"] == hedger["image"]
    command = argv(init)
    assert command[:3] == ["hedger", "topics", "create"]
    assert int(command[command.index("--partitions") + 1]) >= 1
    environment = dict(interpolate_mapping(init["environment"]))
    hedger_environment = dict(interpolate_mapping(hedger["environment"]))
    topics = {v for v in setting_variables() if v.startswith("HEDGER_TOPIC_")}
    assert set(environment) == topics | {"HEDGER_KAFKA_BOOTSTRAP"} | kafka_security_variables()
    for variable, value in environment.items():
        assert value == hedger_environment[variable], variable


def kafka_security_variables() -> set[str]:
    prefixes = ("HEDGER_KAFKA_SECURITY_", "HEDGER_KAFKA_SSL_", "HEDGER_KAFKA_SASL_")
    return {v for v in setting_variables() if v.startswith(prefixes)}


def test_compose_every_kafka_client_gets_the_hedgers_kafka_security() -> None:
    """The producers reach the same Kafka as the hedger, so over the same TLS and SASL."""
    hedger = dict(interpolate_mapping(services()["hedger"]["environment"]))
    for name in ("topic-init", "paper-exchange", "replay"):
        environment = dict(interpolate_mapping(services()[name]["environment"]))
        security = {v: environment.get(v) for v in kafka_security_variables()}
        assert security == {v: hedger[v] for v in kafka_security_variables()}, name


def test_compose_host_ports_are_bound_to_loopback_only() -> None:
    ports = [p for service in services().values() for p in service.get("ports", [])]
    assert len(ports) == 4  # kafka, hedger, prometheus, grafana
    assert all(str(port).startswith("127.0.0.1:") for port in ports)


def test_compose_long_running_services_have_healthchecks() -> None:
    for name, service in services().items():
        check = service.get("healthcheck", {})
        if name in WITHOUT_HEALTHCHECK:
            assert "test" not in check, name
        else:
            assert check["test"][0] in {"CMD", "CMD-SHELL"}, name


def test_compose_dependencies_wait_on_health_or_completion() -> None:
    conditions = {
        (name, dependency): spec["condition"]
        for name, service in services().items()
        for dependency, spec in service.get("depends_on", {}).items()
    }
    assert conditions[("topic-init", "kafka")] == "service_healthy"
    assert conditions[("hedger", "topic-init")] == "service_completed_successfully"
    assert conditions[("paper-exchange", "topic-init")] == "service_completed_successfully"
    assert conditions[("replay", "hedger")] == "service_healthy"
    assert conditions[("grafana", "prometheus")] == "service_healthy"


def test_compose_bind_mounts_exist_and_match_the_provisioning_paths() -> None:
    mounts = {
        source: target
        for service in services().values()
        for volume in interpolate(service.get("volumes", []))
        for source, target, *_ in [volume.split(":")]
        if source.startswith("./")
    }
    assert all((REPO / source).exists() for source in mounts)
    dashboards = yaml.safe_load(
        (REPO / "ops/grafana/provisioning/dashboards/hedger.yaml").read_text()
    )
    assert dashboards["providers"][0]["options"]["path"] == mounts["./ops/grafana/dashboards"]
    assert mounts["./ops/prometheus"] == "/etc/prometheus"


def test_compose_prometheus_scrapes_the_hedger_service_port() -> None:
    config = yaml.safe_load((REPO / "ops/prometheus/prometheus.yml").read_text())
    (job,) = config["scrape_configs"]
    hedger = services()["hedger"]
    port = hedger["environment"]["HEDGER_METRICS_PORT"]
    assert job["static_configs"][0]["targets"] == [f"hedger:{port}"]
    assert str(hedger["ports"][0]).endswith(f":{port}")
