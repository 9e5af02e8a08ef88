"""The security pieces of the `ApacheKafka` harness: a SASL_SSL listener with SCRAM users,
the broker's authorizer (ACLs), and Kafka's own ACL tool, run from the same jars.

The PLAINTEXT and CONTROLLER listeners stay unauthenticated: their principal, ANONYMOUS,
is a super user under the authorizer, because the nodes talk to each other through them
and tests set up (topics, feeds, reading output) through PLAINTEXT. Only clients of the
SASL_SSL listener are held to their ACLs.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from hedger.adapters.broker_process import HOST

if TYPE_CHECKING:
    from hedger.adapters.apache_kafka import KafkaNode

SECURE_LISTENER = "SECURE"
SCRAM_MECHANISMS = ("SCRAM-SHA-256", "SCRAM-SHA-512")
# What bin/kafka-acls.sh runs (Kafka 4 moved it from kafka.admin to the tools jar).
ACL_TOOL_CLASS = "org.apache.kafka.tools.AclCommand"
_AUTHORIZER_CLASS = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
_PLAINTEXT_PRINCIPAL = "User:ANONYMOUS"
# StandardAuthorizer logs each denial at INFO on this logger (allowed requests at DEBUG).
_AUTHORIZER_LOGGER = "kafka.authorizer.logger"
_DENIED = " is Denied operation "


@dataclass(frozen=True)
class SaslSslListener:
    """A SASL_SSL listener: `keystore_pem` holds the broker's PKCS#8 private key (not
    encrypted) and its certificate chain; `users` (name: password) may log in with either
    SCRAM mechanism. The users are created when the storage is formatted."""

    keystore_pem: Path
    users: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Authorizer:
    """The broker's StandardAuthorizer on: a client may do only what an ACL allows it
    (`allow.everyone.if.no.acl.found=false`), except the super users: ANONYMOUS (see the
    module's docstring) and `super_users`, SCRAM user names (an admin that grants ACLs
    over SASL_SSL, say). Each node logs the requests it denies in its server.log."""

    super_users: tuple[str, ...] = ()


def secure_listener_settings(node: KafkaNode, secure: SaslSslListener) -> dict[str, object]:
    """The properties that add the SASL_SSL listener to the PLAINTEXT and CONTROLLER ones
    (which stay the inter-broker and controller listeners)."""
    assert node.secure_port is not None
    name = SECURE_LISTENER
    prefix = f"listener.name.{name.lower()}"
    served = f"PLAINTEXT://{HOST}:{node.port},{name}://{HOST}:{node.secure_port}"
    settings: dict[str, object] = {
        "listeners": f"{served},CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": served,
        "listener.security.protocol.map": (
            f"PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,{name}:SASL_SSL"
        ),
        f"{prefix}.sasl.enabled.mechanisms": ",".join(SCRAM_MECHANISMS),
        f"{prefix}.ssl.keystore.type": "PEM",
        f"{prefix}.ssl.keystore.location": secure.keystore_pem,
    }
    for mechanism in SCRAM_MECHANISMS:
        settings[f"{prefix}.{mechanism.lower()}.sasl.jaas.config"] = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required;"
        )
    return settings


def scram_user_arguments(secure: SaslSslListener | None) -> list[str]:
    """The storage tool's arguments that create the listener's users, both mechanisms each."""
    arguments = []
    for user, password in (secure.users if secure else {}).items():
        for mechanism in SCRAM_MECHANISMS:  # a test broker's users: argv is fine here
            arguments += ["--add-scram", f"{mechanism}=[name={user},password={password}]"]
    return arguments


def authorizer_settings(authorizer: Authorizer) -> dict[str, object]:
    """The properties that turn the authorizer on, on brokers and controllers alike."""
    supers = [_PLAINTEXT_PRINCIPAL, *(f"User:{name}" for name in authorizer.super_users)]
    return {
        "authorizer.class.name": _AUTHORIZER_CLASS,
        "super.users": ";".join(supers),
        "allow.everyone.if.no.acl.found": "false",
    }


def authorizer_log_config(base: Path, folder: Path) -> Path:
    """`base` (the harness's log4j2 configuration) plus the authorizer's logger at INFO,
    written in `folder`: the denials are what tell a missing permission."""
    logger = f'<Logger name="{_AUTHORIZER_LOGGER}" level="info"/>'
    config = folder / "log4j2.xml"
    config.write_text(base.read_text().replace("<Loggers>", f"<Loggers>\n    {logger}", 1))
    return config


def denials(server_log: Path) -> list[str]:
    """The lines of a node's server.log that record a request the authorizer denied."""
    if not server_log.exists():
        return []
    text = server_log.read_text(errors="replace")
    return [line for line in text.splitlines() if _DENIED in line]


def acl_tool(jars: Path) -> list[str]:
    """The command that `kafka-acls.sh` stands for, with the broker's own jars: append its
    arguments (`--bootstrap-server ... --add ...`)."""
    java = shutil.which("java") or "java"
    return [java, "-Xmx256m", "-cp", f"{jars}/*", ACL_TOOL_CLASS]
