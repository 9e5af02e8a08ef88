"""Kafka security settings: parsed from the environment once, checked with one line naming
the variable (never the password), and carried by every client the project makes."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from hedger.adapters import kafka as kafka_clients
from hedger.adapters import topics
from hedger.adapters.kafka_security import KafkaSecurity, refusal
from hedger.config import ConfigError, Settings, kafka_security_from_env

PASSWORD = "hunter2-but-longer"


@pytest.fixture
def password_file(tmp_path: Path) -> str:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    return str(path)


def options(environ: dict[str, str]) -> dict[str, object]:
    return kafka_security_from_env(environ).kafka_client_options()


def sasl(password_file: str, **more: str) -> dict[str, str]:
    return {
        "HEDGER_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "HEDGER_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
        "HEDGER_KAFKA_SASL_USERNAME": "hedger",
        "HEDGER_KAFKA_SASL_PASSWORD_FILE": password_file,
        **more,
    }


def test_kafka_security_unset_is_plaintext() -> None:
    assert options({}) == {"security_protocol": "PLAINTEXT"}
    assert KafkaSecurity().unused() == []


def test_kafka_security_sasl_ssl_reads_the_password_file_and_verifies_hostnames(
    password_file: str,
) -> None:
    given = options(sasl(password_file))
    context = given.pop("ssl_context")
    assert given == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": "hedger",
        "sasl_plain_password": PASSWORD,  # the file's trailing newline dropped
    }
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname
    assert context.verify_mode is ssl.CERT_REQUIRED


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_kafka_security_sasl_plaintext_has_no_tls(password_file: str, mechanism: str) -> None:
    environ = sasl(
        password_file,
        HEDGER_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT",
        HEDGER_KAFKA_SASL_MECHANISM=mechanism,
    )
    given = options(environ)
    assert "ssl_context" not in given
    assert given["sasl_mechanism"] == mechanism


def test_kafka_security_ssl_alone_trusts_the_system_cas() -> None:
    given = options({"HEDGER_KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert isinstance(given["ssl_context"], ssl.SSLContext)
    assert "sasl_mechanism" not in given


def _not_pem(tmp_path: Path) -> str:
    path = tmp_path / "not.pem"
    path.write_text("not a certificate\n")
    return str(path)


def _empty(tmp_path: Path) -> str:
    path = tmp_path / "empty"
    path.write_text("\n")
    return str(path)


# (the environment beside a valid SASL_SSL one, the variable the one line must name)
REFUSED = [
    ({"HEDGER_KAFKA_SECURITY_PROTOCOL": "TLS"}, "HEDGER_KAFKA_SECURITY_PROTOCOL"),
    ({"HEDGER_KAFKA_SECURITY_PROTOCOL": "sasl_ssl"}, "HEDGER_KAFKA_SECURITY_PROTOCOL"),
    ({"HEDGER_KAFKA_SASL_MECHANISM": ""}, "HEDGER_KAFKA_SASL_MECHANISM"),
    ({"HEDGER_KAFKA_SASL_MECHANISM": "GSSAPI"}, "HEDGER_KAFKA_SASL_MECHANISM"),
    ({"HEDGER_KAFKA_SASL_USERNAME": ""}, "HEDGER_KAFKA_SASL_USERNAME"),
    ({"HEDGER_KAFKA_SASL_PASSWORD_FILE": ""}, "HEDGER_KAFKA_SASL_PASSWORD_FILE"),
    ({"HEDGER_KAFKA_SASL_PASSWORD_FILE": "/no/such/file"}, "HEDGER_KAFKA_SASL_PASSWORD_FILE"),
    ({"HEDGER_KAFKA_SASL_PASSWORD_FILE": _empty}, "HEDGER_KAFKA_SASL_PASSWORD_FILE"),
    ({"HEDGER_KAFKA_SSL_CA_FILE": "/no/such/ca.pem"}, "HEDGER_KAFKA_SSL_CA_FILE"),
    ({"HEDGER_KAFKA_SSL_CA_FILE": _not_pem}, "HEDGER_KAFKA_SSL_CA_FILE"),
    ({"HEDGER_KAFKA_SSL_CERT_FILE": "/no/such/cert.pem"}, "HEDGER_KAFKA_SSL_KEY_FILE"),
    (
        {"HEDGER_KAFKA_SSL_CERT_FILE": "/no/cert.pem", "HEDGER_KAFKA_SSL_KEY_FILE": "/no/key"},
        "HEDGER_KAFKA_SSL_CERT_FILE",
    ),
]


@pytest.mark.parametrize(("change", "variable"), REFUSED)
def test_kafka_security_wrong_settings_refuse_to_start_in_one_line_naming_the_variable(
    tmp_path: Path, password_file: str, change: dict[str, object], variable: str
) -> None:
    made = {name: value(tmp_path) if callable(value) else value for name, value in change.items()}
    environ = sasl(password_file, **{name: str(value) for name, value in made.items()})
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(environ)  # `hedger run` and every `hedger` command
    with pytest.raises(ConfigError) as refused_too:
        options(environ)  # every other Kafka client of a process (the producers' tools)
    for error in (refused.value, refused_too.value):
        message = str(error)
        assert variable in message
        assert "\n" not in message
        assert PASSWORD not in message


def test_kafka_security_variables_the_protocol_does_not_use_are_named(password_file: str) -> None:
    settings = kafka_security_from_env(sasl(password_file, HEDGER_KAFKA_SECURITY_PROTOCOL="SSL"))
    assert settings.kafka_security().unused() == [
        "HEDGER_KAFKA_SASL_MECHANISM",
        "HEDGER_KAFKA_SASL_USERNAME",
        "HEDGER_KAFKA_SASL_PASSWORD_FILE",
    ]


def test_kafka_security_password_is_not_in_the_settings_repr(password_file: str) -> None:
    settings = Settings.from_env(sasl(password_file))
    assert PASSWORD not in repr(settings)
    assert PASSWORD not in repr(settings.kafka_security())


async def test_kafka_security_plaintext_is_never_a_refusal() -> None:
    assert await refusal("127.0.0.1:1", {"security_protocol": "PLAINTEXT"}) is None


@pytest.fixture
def process_environment(monkeypatch: pytest.MonkeyPatch, password_file: str) -> Iterator[None]:
    """This process's environment set for SASL_PLAINTEXT, read afresh by the clients."""
    environ = sasl(password_file, HEDGER_KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    kafka_clients.security_options.cache_clear()
    yield
    kafka_clients.security_options.cache_clear()


@pytest.mark.usefixtures("process_environment")
async def test_every_client_maker_carries_the_process_security() -> None:
    producer = kafka_clients.make_producer("127.0.0.1:1", "test")
    consumer = kafka_clients.make_consumer("127.0.0.1:1", "test", None)
    for client in (producer.client, consumer._client):
        assert client._security_protocol == "SASL_PLAINTEXT"
        assert client._sasl_mechanism == "SCRAM-SHA-256"
        assert client._sasl_plain_username == "hedger"
        assert client._sasl_plain_password == PASSWORD
    await producer.stop()
    await consumer.stop()


class RecordedError(Exception):
    """Raised by a stand-in client once it has recorded how it was made."""


@pytest.mark.usefixtures("process_environment")
@pytest.mark.parametrize(
    ("client", "uses"),
    [
        ("AIOKafkaAdminClient", ["ensure_topics", "describe_topics"]),
        ("AIOKafkaConsumer", ["highwaters"]),
    ],
)
async def test_topic_clients_carry_the_process_security_too(
    monkeypatch: pytest.MonkeyPatch, client: str, uses: list[str]
) -> None:
    made: list[dict[str, object]] = []

    def record(*_: object, **kwargs: object) -> None:
        made.append(kwargs)
        raise RecordedError

    monkeypatch.setattr(topics, client, record)
    for use in uses:
        with contextlib.suppress(RecordedError):
            await getattr(topics, use)("127.0.0.1:1", ["t"] if use != "highwaters" else "t")
    assert len(made) == len(uses)
    for kwargs in made:
        assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
        assert kwargs["sasl_plain_username"] == "hedger"
