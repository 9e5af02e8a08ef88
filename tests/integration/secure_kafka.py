"""An Apache Kafka with a SASL_SSL listener (SCRAM-SHA-256/512) for the security tests, and
the settings and tools that reach it.

The listener's certificate (SAN IP:127.0.0.1, DNS:localhost) is signed by a CA made here
with the `openssl` command; a second CA signs nothing, for the untrusted-certificate case.
The broker's PLAINTEXT listener stays open for the tests' own setup and reading.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hedger.adapters.apache_kafka import ApacheKafka, KafkaUnavailableError
from hedger.adapters.apache_kafka_security import SaslSslListener
from hedger.config import Settings
from tests.integration.harness import environment

USER = "hedger"


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


@contextlib.contextmanager
def secure_kafka_broker(folder: Path, password: str, wrong_password: str) -> Iterator[SecureKafka]:
    """A one-node Apache Kafka where `USER` logs in with `password`, and the password files
    (the right one, and one holding `wrong_password`); skipped (failed under CI=true)
    where openssl, Java or Maven is missing. For a module-scoped fixture: it takes a while."""
    if shutil.which("openssl") is None:
        unavailable("the openssl command (it makes the certificates) is not on PATH")
    ca = _certificate_authority(folder, "hedger-test-ca")
    other_ca = _certificate_authority(folder, "some-other-ca")
    keystore = _broker_keystore(folder, ca)
    (folder / "password").write_text(password + "\n")
    (folder / "wrong-password").write_text(wrong_password + "\n")
    broker = ApacheKafka(secure=SaslSslListener(keystore, {USER: password}))
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
    settings: Settings, folder: Path, name: str, lines: list[bytes], *options: str
) -> subprocess.CompletedProcess[str]:
    """`python -m producers.replay` of `lines` to its end; `options` after the others."""
    recording = folder / f"{name}.jsonl"
    recording.write_bytes(b"".join(line + b"\n" for line in lines))
    command = [sys.executable, "-m", "producers.replay", str(recording), "--speed", "0"]
    command += ["--bootstrap", settings.require_bootstrap(), "--no-progress"]
    command += ["--prices-topic", settings.prices_topic, "--fills-topic", settings.fills_topic]
    env = environment(settings)
    return subprocess.run([*command, *options], env=env, capture_output=True, text=True, timeout=60)
