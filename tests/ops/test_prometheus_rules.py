"""promtool on the Prometheus files: the config, the alert rules, and the rules' unit tests."""

from __future__ import annotations

import subprocess

import yaml

from tests.ops.files import alert_rules
from tests.ops.tools import PROMETHEUS_DIR, tool


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("promtool", "prometheus"), *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_promtool_check_config_accepts_prometheus_yml_and_its_rule_file() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 1 rule files found" in result.stdout


def test_promtool_check_rules_accepts_every_alert() -> None:
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout


def test_promtool_test_rules_passes_every_alert_unit_test() -> None:
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_alert_unit_tests_see_every_alert_fire() -> None:
    tests = yaml.safe_load((PROMETHEUS_DIR / "alerts_test.yml").read_text())["tests"]
    fired = {
        case["alertname"]
        for test in tests
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    assert fired == {rule["alert"] for rule in alert_rules()}


def test_alerts_cover_the_issue_list_with_severity_and_summary() -> None:
    rules = {rule["alert"]: rule for rule in alert_rules()}
    wanted = {
        "DeltaOutsideBand",
        "PriceFeedStale",
        "KillSwitchEngaged",
        "DeadLettersGrowing",
        "ConsumerLagGrowing",
        "HedgeOrderRateSpike",
        "HedgerDown",
    }
    assert wanted <= rules.keys()
    for rule in rules.values():
        assert rule["labels"]["severity"] in {"critical", "warning"}
        assert rule["annotations"]["summary"]
