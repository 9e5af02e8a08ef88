"""Lifecycle of the embedded Tansu broker: start, readiness, stop, failures, no orphans."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hedger
from hedger.adapters.embedded_broker import EmbeddedBroker

REPOSITORY_ROOT = Path(hedger.__file__).resolve().parents[1]


def accepts_connections(bootstrap: str) -> bool:
    host, port = bootstrap.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def is_running(pid: int) -> bool:
    """False once the process is gone or a zombie (nobody may reap it in a container)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def fake_broker(tmp_path: Path, script: str) -> str:
    binary = tmp_path / "fake-tansu"
    binary.write_text("#!/bin/sh\n" + script + "\n")
    binary.chmod(0o755)
    return str(binary)


@pytest.mark.broker
def test_embedded_broker_stop_closes_port_and_ends_process() -> None:
    broker = EmbeddedBroker()
    bootstrap = broker.start()
    pid = broker.pid
    assert pid is not None
    assert broker.bootstrap == bootstrap
    assert broker.startup_duration_s is not None
    assert accepts_connections(bootstrap)

    broker.stop()
    broker.stop()  # idempotent

    assert not accepts_connections(bootstrap)
    assert not is_running(pid)
    with pytest.raises(RuntimeError, match="not running"):
        _ = broker.bootstrap


@pytest.mark.broker
def test_embedded_broker_context_manager_yields_bootstrap_and_stops() -> None:
    with EmbeddedBroker() as bootstrap:
        assert accepts_connections(bootstrap)
    assert not accepts_connections(bootstrap)


def test_embedded_broker_binary_exiting_at_once_raises_with_output_tail(tmp_path: Path) -> None:
    binary = fake_broker(tmp_path, 'echo "boom: no storage engine" >&2\nexit 3')
    broker = EmbeddedBroker(binary=binary)
    started = time.monotonic()

    with pytest.raises(RuntimeError, match=r"exited with code 3(.|\n)*boom: no storage engine"):
        broker.start(timeout_s=10)

    assert time.monotonic() - started < 5
    assert broker.pid is None


def test_embedded_broker_never_answering_times_out_and_is_killed(tmp_path: Path) -> None:
    binary = fake_broker(tmp_path, "echo listening soon >&2\nexec sleep 60")
    broker = EmbeddedBroker(binary=binary)

    with pytest.raises(RuntimeError, match=r"within 0.3s(.|\n)*listening soon"):
        broker.start(timeout_s=0.3)

    assert broker.pid is None


def test_embedded_broker_scrubs_environment_and_runs_in_temp_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STORAGE_ENGINE", "postgres://leaked")
    monkeypatch.setenv("CLUSTER_ID", "leaked")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://leaked")
    binary = fake_broker(
        tmp_path,
        'echo "engine=${STORAGE_ENGINE-unset} cluster=${CLUSTER_ID-unset} '
        'otel=${OTEL_EXPORTER_OTLP_ENDPOINT-unset} cwd=$(pwd)"\nexit 1',
    )

    with pytest.raises(RuntimeError) as raised:
        EmbeddedBroker(binary=binary).start(timeout_s=10)

    assert "engine=unset cluster=unset otel=unset cwd=" in str(raised.value)
    assert f"cwd={Path.cwd()}\n" not in str(raised.value)


@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and prctl")
@pytest.mark.parametrize("ending", ["exit_without_stop", "sigkill"])
def test_embedded_broker_dies_with_its_parent_process(ending: str) -> None:
    code = (
        "from hedger.adapters.embedded_broker import EmbeddedBroker\n"
        "import sys, time\n"
        "broker = EmbeddedBroker()\n"
        "print(broker.start(), broker.pid, flush=True)\n"
        f"time.sleep(0 if {ending!r} == 'exit_without_stop' else 60)\n"
    )
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}
    with subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=environment
    ) as parent:
        assert parent.stdout is not None
        bootstrap, pid = parent.stdout.readline().split()
        if ending == "sigkill":
            parent.kill()
        parent.wait(timeout=10)

    # The group leader turns zombie before its other threads release the socket.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not is_running(int(pid)) and not accepts_connections(bootstrap):
            break
        time.sleep(0.02)
    assert not is_running(int(pid))
    assert not accepts_connections(bootstrap)
