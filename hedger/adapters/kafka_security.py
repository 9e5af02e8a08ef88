"""How every Kafka client of a process authenticates and encrypts: PLAINTEXT, SSL, SASL_SSL
or SASL_PLAINTEXT with PLAIN or SCRAM-SHA-256/512.

`KafkaSecurity` holds the settings (HEDGER_KAFKA_SECURITY_PROTOCOL, HEDGER_KAFKA_SSL_*,
HEDGER_KAFKA_SASL_*) as given: `hedger.config` declares them and reads the environment.
`client_options()` validates them, reads the password file and the TLS files, and gives
the aiokafka keyword arguments. Secrets come from files only, so they never appear on a
command line or in a process listing, and no message here repeats one. `refusal()` tells
a broker that refuses this process's credentials or certificate (which no retry will
mend) from one that is merely down.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass
from typing import Any

from aiokafka.conn import create_conn
from aiokafka.errors import (
    IllegalSaslStateError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context

PROTOCOL_ENV = "HEDGER_KAFKA_SECURITY_PROTOCOL"
CA_FILE_ENV = "HEDGER_KAFKA_SSL_CA_FILE"
CERT_FILE_ENV = "HEDGER_KAFKA_SSL_CERT_FILE"
KEY_FILE_ENV = "HEDGER_KAFKA_SSL_KEY_FILE"
MECHANISM_ENV = "HEDGER_KAFKA_SASL_MECHANISM"
USERNAME_ENV = "HEDGER_KAFKA_SASL_USERNAME"
PASSWORD_FILE_ENV = "HEDGER_KAFKA_SASL_PASSWORD_FILE"

PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT")
MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
_TLS = ("SSL", "SASL_SSL")
_SASL = ("SASL_SSL", "SASL_PLAINTEXT")
# What a broker answers when it will not have this client: no retry changes that.
_REFUSALS = (
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
    IllegalSaslStateError,
    ssl.SSLError,
)
_PROBE_TIMEOUT_S = 5.0


class KafkaSecurityError(ValueError):
    """A Kafka security setting is wrong; the message names its variable, never a secret."""


class KafkaRefusedError(KafkaError):  # type: ignore[misc]  # aiokafka is untyped
    """The broker answered but refused this client's credentials or TLS handshake."""

    def __str__(self) -> str:  # the line itself, without KafkaError's class-name prefix
        return str(self.args[0]) if self.args else "the broker refused this client"


@dataclass(frozen=True, slots=True)
class KafkaSecurity:
    """The settings as given: file paths, not their contents (see `client_options`)."""

    protocol: str = "PLAINTEXT"
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    mechanism: str | None = None
    username: str | None = None
    password_file: str | None = None

    def client_options(self) -> dict[str, Any]:
        """aiokafka's keyword arguments for these settings (the same for producers,
        consumers and admin clients); `KafkaSecurityError` if they do not hold together."""
        if self.protocol not in PROTOCOLS:
            raise KafkaSecurityError(
                f"{PROTOCOL_ENV}={self.protocol!r} is not one of {', '.join(PROTOCOLS)}"
            )
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in _TLS:
            options["ssl_context"] = self._ssl_context()
        if self.protocol in _SASL:
            options.update(self._sasl_options())
        return options

    def unused(self) -> list[str]:
        """The variables given that the protocol does not use (likely a forgotten protocol)."""
        given = {
            CA_FILE_ENV: (self.ca_file, _TLS),
            CERT_FILE_ENV: (self.cert_file, _TLS),
            KEY_FILE_ENV: (self.key_file, _TLS),
            MECHANISM_ENV: (self.mechanism, _SASL),
            USERNAME_ENV: (self.username, _SASL),
            PASSWORD_FILE_ENV: (self.password_file, _SASL),
        }
        return [
            variable
            for variable, (value, used_by) in given.items()
            if value and self.protocol not in used_by
        ]

    def _ssl_context(self) -> ssl.SSLContext:
        if (self.cert_file is None) != (self.key_file is None):
            raise KafkaSecurityError(
                f"{CERT_FILE_ENV} and {KEY_FILE_ENV} go together: set both for a client"
                " certificate, or neither"
            )
        for variable, path in (
            (CA_FILE_ENV, self.ca_file),
            (CERT_FILE_ENV, self.cert_file),
            (KEY_FILE_ENV, self.key_file),
        ):
            if path is not None:
                _require_readable(variable, path)
        try:  # hostname verification is always on in aiokafka's context
            context: ssl.SSLContext = create_ssl_context(
                cafile=self.ca_file, certfile=self.cert_file, keyfile=self.key_file
            )
        except ssl.SSLError as error:
            raise KafkaSecurityError(
                f"{CA_FILE_ENV}, {CERT_FILE_ENV} or {KEY_FILE_ENV}: not a usable PEM"
                f" certificate or key ({error.reason or error})"
            ) from None
        return context

    def _sasl_options(self) -> dict[str, Any]:
        if self.mechanism not in MECHANISMS:
            shown = "not set" if self.mechanism is None else f"{self.mechanism!r}"
            raise KafkaSecurityError(
                f"{MECHANISM_ENV} is {shown}: {self.protocol} needs one of {', '.join(MECHANISMS)}"
            )
        for variable, value in (
            (USERNAME_ENV, self.username),
            (PASSWORD_FILE_ENV, self.password_file),
        ):
            if not value:
                raise KafkaSecurityError(f"{variable} is not set: {self.protocol} needs it")
        assert self.password_file is not None  # checked just above
        return {
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": _read_password(self.password_file),
        }


def _require_readable(variable: str, path: str) -> None:
    try:
        with open(path, "rb") as file:
            file.read(1)
    except OSError as error:
        raise KafkaSecurityError(f"{variable}={path!r}: {error.strerror}") from None


def _read_password(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as file:
            password = file.read().rstrip("\r\n")  # a file written by `echo` ends in one
    except OSError as error:
        raise KafkaSecurityError(f"{PASSWORD_FILE_ENV}={path!r}: {error.strerror}") from None
    except UnicodeDecodeError:
        raise KafkaSecurityError(f"{PASSWORD_FILE_ENV}={path!r}: not readable UTF-8 text") from None
    if not password:
        raise KafkaSecurityError(f"{PASSWORD_FILE_ENV}={path!r} is empty")
    return password


async def refusal(bootstrap: str, options: dict[str, Any]) -> KafkaRefusedError | None:
    """Why the first broker of `bootstrap` that answers refuses a client with `options`, or
    None if none refuses (unreachable, or accepting). aiokafka only logs this reason and
    raises "Unable to bootstrap", the same error as for a broker that is down."""
    if options.get("security_protocol", "PLAINTEXT") == "PLAINTEXT":
        return None
    for entry in bootstrap.split(","):
        host, _, port = entry.strip().rpartition(":")
        try:
            async with asyncio.timeout(_PROBE_TIMEOUT_S):
                connection = await create_conn(host.strip("[]"), int(port), **options)
        except _REFUSALS as error:
            return KafkaRefusedError(_refusal_line(entry.strip(), options, error))
        except (OSError, KafkaError, TimeoutError, ValueError):
            continue
        connection.close()
        return None
    return None


def _refusal_line(entry: str, options: dict[str, Any], error: BaseException) -> str:
    protocol = options["security_protocol"]
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"the broker at {entry} presented a certificate this client does not trust"
            f" ({error.verify_message}): is {CA_FILE_ENV} the CA that signed it, and the"
            " address one the certificate names?"
        )
    if isinstance(error, ssl.SSLError):
        return (
            f"TLS with the broker at {entry} failed ({error.reason or error}): does it"
            f" speak {protocol} ({PROTOCOL_ENV})?"
        )
    said = str(error).strip() or type(error).__name__
    who = f"{options.get('sasl_plain_username')!r} ({options.get('sasl_mechanism')})"
    return (
        f"the broker at {entry} refused {protocol} as {who}: {said} (check {USERNAME_ENV},"
        f" {PASSWORD_FILE_ENV}, {MECHANISM_ENV})"
    )
