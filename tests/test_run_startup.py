"""`hedger run` meeting what it cannot start on, with no broker at all: an address where no
broker answers, a taken HTTP port, a bootstrap that does not parse. One line, exit 2."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

from hedger.adapters.broker_process import free_port

_DEADLINE_S = 60


def _environment(**variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGER_")}
    return {**env, "HEDGER_HTTP_HOST": "127.0.0.1", **variables}


def _run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hedger.cli", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=_DEADLINE_S,
    )


def _assert_one_clear_line(stderr: str, starting: str) -> None:
    assert "Traceback" not in stderr
    assert "Unclosed" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith(starting), stderr


def test_an_unreachable_broker_is_retried_for_the_wait_then_refused_in_one_line():
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = _environment(
        HEDGER_KAFKA_BOOTSTRAP=bootstrap,
        HEDGER_BROKER_WAIT_S="2",
        HEDGER_METRICS_PORT=str(free_port()),
    )
    started = time.monotonic()
    result = _run(env)
    waited_s = time.monotonic() - started
    assert result.returncode == 2
    _assert_one_clear_line(result.stderr, f"hedger: cannot reach Kafka at {bootstrap}")
    assert "HEDGER_BROKER_WAIT_S" in result.stderr.splitlines()[-1]
    assert result.stderr.count("retrying in") >= 2  # it did retry
    assert waited_s >= 2.0


def _readyz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()
    except OSError:
        return 0, ""


def test_while_it_waits_for_the_broker_readyz_says_why_and_sigterm_stops_it():
    port = free_port()
    env = _environment(
        HEDGER_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}",
        HEDGER_BROKER_WAIT_S="300",
        HEDGER_METRICS_PORT=str(port),
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "hedger.cli", "run"], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + _DEADLINE_S
        answer = _readyz(port)
        while "broker unreachable" not in answer[1] and time.monotonic() < deadline:
            time.sleep(0.1)
            answer = _readyz(port)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    finally:
        process.kill()
    assert answer[0] == 503
    assert "broker unreachable at 127.0.0.1" in answer[1]
    assert process.returncode == 0
    assert "Traceback" not in stderr


def test_a_taken_http_port_is_refused_in_one_line():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = _environment(
            HEDGER_KAFKA_BOOTSTRAP=f"127.0.0.1:{free_port()}", HEDGER_METRICS_PORT=str(port)
        )
        result = _run(env)
    assert result.returncode == 2
    _assert_one_clear_line(result.stderr, f"hedger: cannot serve HTTP on 127.0.0.1:{port}")
    assert "address already in use" in result.stderr


def test_a_bootstrap_that_does_not_parse_is_refused_before_anything_starts():
    result = _run(_environment(HEDGER_KAFKA_BOOTSTRAP="kafka"))
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "hedger: HEDGER_KAFKA_BOOTSTRAP entry 'kafka' is not host:port (e.g. localhost:9092)"
    )
