"""Paths of the repository's ops files, and the external tools the ops tests run.

promtool and prometheus come from Debian's `prometheus` package, docker-compose from
Debian's `docker-compose`; `.ci/run` installs both. A missing tool fails the test in CI
(CI=true) and skips it elsewhere, naming the package to install.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import NoReturn

import pytest

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "ops" / "prometheus"
GRAFANA_DIR = REPO / "ops" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "hedger.json"
DATASOURCES = GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yaml"
COMPOSE_FILE = REPO / "docker-compose.yml"


def tool(name: str, package: str) -> str:
    """The path of executable `name`; fails in CI and skips elsewhere when it is missing."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed: apt-get install {package}"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (.ci/run installs it when missing)")
    pytest.skip(message)


def unavailable(message: str) -> NoReturn:
    """Fails in CI (CI=true) and skips elsewhere: what a test needs is missing here."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
