"""Kafka over TLS and SASL against a real Apache Kafka: a SASL_SSL listener with
SCRAM-SHA-256/512, its certificate (SAN IP:127.0.0.1, DNS:localhost) signed by a CA made
here with the `openssl` command.

The hedger (`hedger run`, a child process) and the replay tool reach the broker only
through that listener, configured by the HEDGER_KAFKA_* security variables; the test's own
setup and reading use the PLAINTEXT listener. A wrong password and an untrusted
certificate each stop `hedger run` at once with one line, not a minute of retries.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hedger.adapters.apache_kafka import ApacheKafka, KafkaUnavailableError, SaslSslListener
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    child_hedger,
    environment,
    has_book,
    hedger_settings,
    read_messages,
    wait_until,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

USER = "hedger"
PASSWORD = "correct-horse-battery-staple"
WRONG_PASSWORD = "not-the-password-42"
REFUSAL_DEADLINE_S = 15.0


@dataclasses.dataclass(frozen=True)
class SecureKafka:
    broker: ApacheKafka
    ca_file: Path
    other_ca_file: Path
    password_file: Path
    wrong_password_file: Path


def _openssl(folder: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)


def _certificate_authority(folder: Path, name: str) -> Path:
    _openssl(
        folder,
        *("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
        *("-keyout", f"{name}.key", "-out", f"{name}.pem", "-subj", f"/CN={name}"),
    )
    return folder / f"{name}.pem"


def _broker_keystore(folder: Path, ca: Path) -> Path:
    """The broker's PKCS#8 key, its certificate signed by `ca` and `ca`, in one PEM file."""
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    _openssl(
        folder,
        *("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key"),
        *("-out", "server.csr", "-subj", "/CN=localhost"),
    )
    _openssl(
        folder,
        *(
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            ca.name,
            "-CAkey",
            ca.with_suffix(".key").name,
        ),
        *("-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext"),
    )
    keystore = folder / "keystore.pem"
    keystore.write_text(
        "".join((folder / n).read_text() for n in ("server.key", "server.pem", ca.name))
    )
    return keystore


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    if shutil.which("openssl") is None:
        unavailable("the openssl command (it makes the certificates) is not on PATH")
    folder = tmp_path_factory.mktemp("kafka-tls")
    ca = _certificate_authority(folder, "hedger-test-ca")
    other_ca = _certificate_authority(folder, "some-other-ca")
    keystore = _broker_keystore(folder, ca)
    (folder / "password").write_text(PASSWORD + "\n")
    (folder / "wrong-password").write_text(WRONG_PASSWORD + "\n")
    broker = ApacheKafka(secure=SaslSslListener(keystore, {USER: PASSWORD}))
    try:
        broker.start()
    except KafkaUnavailableError as error:
        unavailable(f"Apache Kafka unavailable: {error}")
    try:
        yield SecureKafka(broker, ca, other_ca, folder / "password", folder / "wrong-password")
    finally:
        broker.stop()


def unavailable(why: str) -> None:
    """Skip, or fail under CI=true (as tests/conftest.py: CI must run the Apache tier)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot run in CI: {why}")
    pytest.skip(why)


def secured(settings: Settings, kafka: SecureKafka, **overrides: Any) -> Settings:
    """`settings` through the SASL_SSL listener, with the right credentials unless overridden."""
    secure: dict[str, Any] = {
        "kafka_bootstrap": kafka.broker.secure_bootstrap,
        "kafka_security_protocol": "SASL_SSL",
        "kafka_ssl_ca_file": str(kafka.ca_file),
        "kafka_sasl_mechanism": "SCRAM-SHA-512",
        "kafka_sasl_username": USER,
        "kafka_sasl_password_file": str(kafka.password_file),
    }
    return dataclasses.replace(settings, **{**secure, **overrides})


def replay(settings: Settings, folder: Path, name: str, lines: list[bytes]) -> None:
    """`python -m producers.replay` of `lines` with `settings`' security variables (the
    SCRAM-SHA-256 login: the service uses SHA-512)."""
    settings = dataclasses.replace(settings, kafka_sasl_mechanism="SCRAM-SHA-256")
    done = run_replay(settings, folder, name, lines)
    assert done.returncode == 0, done.stderr


def run_replay(
    settings: Settings, folder: Path, name: str, lines: list[bytes]
) -> subprocess.CompletedProcess[str]:
    recording = folder / f"{name}.jsonl"
    recording.write_bytes(b"".join(line + b"\n" for line in lines))
    command = [sys.executable, "-m", "producers.replay", str(recording), "--speed", "0"]
    command += ["--bootstrap", settings.require_bootstrap(), "--no-progress"]
    command += ["--prices-topic", settings.prices_topic, "--fills-topic", settings.fills_topic]
    env = environment(settings)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


async def test_the_hedger_hedges_end_to_end_through_a_sasl_ssl_scram_listener(
    secure_kafka: SecureKafka, topic_prefix: str, tmp_path: Path
) -> None:
    plain = await hedger_settings(
        secure_kafka.broker.bootstrap, topic_prefix, rate=mm.RATE, lot_size=100.0
    )
    settings = secured(plain, secure_kafka)
    async with child_hedger(settings) as hedger:
        position = [encode_vol(mm.vol()), encode_fill(mm.client_buys_calls())]
        await asyncio.to_thread(replay, settings, tmp_path, "position", position)
        await wait_until(lambda: has_book(settings, "mm-1"))
        await asyncio.to_thread(
            replay, settings, tmp_path, "tick", [encode_tick(mm.tick(100.0, 0))]
        )
        (order,) = await read_messages(plain.require_bootstrap(), plain.orders_topic, 1)
        assert (order["book"], order["side"], order["qty"]) == ("mm-1", "sell", 6000)
        assert hedger.poll() is None
        assert "Traceback" not in hedger.said()


def run_refused(settings: Settings) -> tuple[subprocess.CompletedProcess[str], float]:
    """`hedger run` to its end, and how long it took."""
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "hedger.cli", "run"],
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done, time.monotonic() - began


def assert_one_line_refusal(
    done: subprocess.CompletedProcess[str], took_s: float, says: str
) -> None:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, done.stderr
    assert took_s < REFUSAL_DEADLINE_S, f"retried for {took_s:.0f} s:\n{done.stderr}"
    assert "Traceback" not in done.stderr
    assert len(lines) == 1, f"not one line:\n{done.stderr}"
    assert lines[0].startswith("hedger: "), lines[0]
    assert says in lines[0], lines[0]
    assert PASSWORD not in done.stderr
    assert WRONG_PASSWORD not in done.stderr


async def test_a_wrong_password_stops_hedger_run_at_once_with_one_line(
    secure_kafka: SecureKafka, topic_prefix: str
) -> None:
    plain = await hedger_settings(secure_kafka.broker.bootstrap, topic_prefix, broker_wait_s=30.0)
    settings = secured(
        plain, secure_kafka, kafka_sasl_password_file=str(secure_kafka.wrong_password_file)
    )
    done, took_s = await asyncio.to_thread(run_refused, settings)
    assert_one_line_refusal(done, took_s, f"refused SASL_SSL as {USER!r} (SCRAM-SHA-512)")


async def test_a_certificate_of_an_untrusted_ca_stops_hedger_run_at_once_with_one_line(
    secure_kafka: SecureKafka, topic_prefix: str
) -> None:
    plain = await hedger_settings(secure_kafka.broker.bootstrap, topic_prefix, broker_wait_s=30.0)
    settings = secured(plain, secure_kafka, kafka_ssl_ca_file=str(secure_kafka.other_ca_file))
    done, took_s = await asyncio.to_thread(run_refused, settings)
    assert_one_line_refusal(done, took_s, "presented a certificate this client does not trust")


async def test_the_replay_tool_with_a_wrong_password_says_why_in_its_last_line(
    secure_kafka: SecureKafka, topic_prefix: str, tmp_path: Path
) -> None:
    plain = await hedger_settings(secure_kafka.broker.bootstrap, topic_prefix)
    wrong = str(secure_kafka.wrong_password_file)
    settings = secured(plain, secure_kafka, kafka_sasl_password_file=wrong)
    lines = [encode_tick(mm.tick(100.0, 0))]
    done = await asyncio.to_thread(run_replay, settings, tmp_path, "refused", lines)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr
    assert WRONG_PASSWORD not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("replay: "), done.stderr
    assert f"refused SASL_SSL as {USER!r} (SCRAM-SHA-512)" in last, done.stderr
