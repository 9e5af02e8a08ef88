"""The hedger with the broker's authorizer on: an Apache Kafka of this module's own, its
StandardAuthorizer denying whatever no ACL allows, a SASL_SSL listener with SCRAM users
`hedger` (the service), `operator` (the desk's kill-switch tool), `intruder` and `admin`
(a super user, who grants the ACLs).

The ACLs are granted by the commands in the README's "Kafka ACLs" block, run with Kafka's
own tool (what `kafka-acls.sh` runs) from the broker's jars, the names in them swapped
for this test's: the README cannot list permissions the test does not use. With them the
hedger hedges, writes and rebuilds with no request denied; the control topic takes kill
switches from the operator only; one permission less stops the hedger, saying why.

The test's own feed and reading use the PLAINTEXT listener (its principal is a super user).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import aiohttp
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError
from aiokafka.helpers import create_ssl_context

from hedger.adapters.apache_kafka import ApacheKafka, KafkaUnavailableError
from hedger.adapters.apache_kafka_security import Authorizer, SaslSslListener
from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.control_codec import encode_control
from hedger.core.controls import ALL_BOOKS
from hedger.core.events import KillSwitchSet
from tests.integration.harness import (
    Producer,
    books,
    child_hedger,
    environment,
    has_book,
    hedger_settings,
    read_messages,
    read_topic,
    records_now,
    wait_until,
)

# Shared with test_kafka_security.py (helpers made for it): the broker's certificate.
from tests.integration.secure_kafka import (
    _broker_keystore,
    _certificate_authority,
    unavailable,
)
from tests.scenarios import market_maker as mm

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md", "### Kafka ACLs"
HOW_TO = ROOT / "docs" / "how-to" / "run-on-your-kafka.md", "## With the broker's authorizer on"
USERS = {
    "admin": "admin-secret-of-the-test-broker",
    "hedger": "hedger-secret-of-the-test-broker",
    "operator": "operator-secret-of-the-test-broker",
    "intruder": "intruder-secret-of-the-test-broker",
}
MECHANISM = "SCRAM-SHA-512"
TOKEN = "d" * 64  # the HTTP control endpoint's bearer token, for principal "desk"
ACL_TOOL_TIMEOUT_S = 120
# What the README's names are, for the swap: Settings' defaults.
DEFAULTS = Settings()


@dataclasses.dataclass(frozen=True)
class AclKafka:
    broker: ApacheKafka
    folder: Path
    ca_file: Path
    admin_config: Path

    def password_file(self, user: str) -> Path:
        return self.folder / f"{user}.password"


@pytest.fixture(scope="module")
def acl_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AclKafka]:
    if shutil.which("openssl") is None:
        unavailable("the openssl command (it makes the certificates) is not on PATH")
    folder = tmp_path_factory.mktemp("kafka-acls")
    ca = _certificate_authority(folder, "hedger-test-ca")
    keystore = _broker_keystore(folder, ca)
    for user, password in USERS.items():
        (folder / f"{user}.password").write_text(password + "\n")
    admin_config = folder / "admin.properties"
    admin_config.write_text(_client_properties("admin", ca))
    listener = SaslSslListener(keystore, USERS)
    broker = ApacheKafka(secure=listener, authorizer=Authorizer(super_users=("admin",)))
    try:
        broker.start()
    except KafkaUnavailableError as error:
        unavailable(f"Apache Kafka unavailable: {error}")
    try:
        yield AclKafka(broker, folder, ca, admin_config)
    finally:
        broker.stop()


def _client_properties(user: str, ca: Path) -> str:
    """A Java client's security settings (`--command-config`) for `user` over SASL_SSL."""
    login = "org.apache.kafka.common.security.scram.ScramLoginModule required"
    return (
        f"security.protocol=SASL_SSL\nsasl.mechanism={MECHANISM}\n"
        f'sasl.jaas.config={login} username="{user}" password="{USERS[user]}";\n'
        f"ssl.truststore.type=PEM\nssl.truststore.location={ca}\n"
    )


def acl_block(page: tuple[Path, str]) -> str:
    """The first `sh` block after `page`'s heading (a path, a heading line)."""
    path, heading = page
    after = path.read_text(encoding="utf-8").split(f"\n{heading}\n", 1)[1]
    return after.split("```sh\n", 1)[1].split("```", 1)[0]


def readme_acl_commands() -> list[list[str]]:
    """The `kafka-acls.sh` commands of the README's ACL block, each split into arguments."""
    block = acl_block(README)
    commands = [shlex.split(line) for line in block.replace("\\\n", " ").splitlines()]
    assert commands, block
    assert all(command[0] == "kafka-acls.sh" for command in commands), block
    return commands


def for_this_test(command: list[str], kafka: AclKafka, settings: Settings) -> list[str]:
    """`command` as Kafka's tool on this broker, the README's names swapped for
    `settings`' (topics by their default names; groups and transactional ids by the
    default group id they begin with)."""
    topics = dict(zip(DEFAULTS.topics, settings.topics, strict=True))
    swaps: dict[str, Callable[[str], str]] = {
        "--bootstrap-server": lambda _: kafka.broker.secure_bootstrap,
        "--command-config": lambda _: str(kafka.admin_config),
        "--topic": lambda name: topics[name],
        "--group": lambda name: _regrouped(name, settings),
        "--transactional-id": lambda name: _regrouped(name, settings),
    }
    arguments, option = [], ""
    for argument in command[1:]:
        swap = swaps.get(option)
        arguments.append(argument if swap is None else swap(argument))
        option = argument
    return [*kafka.broker.acl_tool(), *arguments]


def _regrouped(name: str, settings: Settings) -> str:
    assert name.startswith(DEFAULTS.group_id), name
    return settings.group_id + name.removeprefix(DEFAULTS.group_id)


async def grant(kafka: AclKafka, settings: Settings, commands: list[list[str]]) -> None:
    """Run the ACL commands for `settings`' names, all at once (each is a JVM start)."""
    runs = [_run_acl_tool(for_this_test(command, kafka, settings)) for command in commands]
    await asyncio.gather(*runs)


async def _run_acl_tool(command: list[str]) -> None:
    done = await asyncio.to_thread(
        subprocess.run, command, capture_output=True, text=True, timeout=ACL_TOOL_TIMEOUT_S
    )
    assert done.returncode == 0, f"{shlex.join(command)}:\n{done.stdout}{done.stderr}"


def without_topic(commands: list[list[str]], operation: str, topic: str) -> list[list[str]]:
    """`commands` with `topic` taken out of the one granting `operation` on topics."""
    changed = []
    for command in commands:
        pairs = list(itertools.pairwise(command))
        if ("--operation", operation) in pairs and ("--topic", topic) in pairs:
            at = command.index(topic)
            command = command[: at - 1] + command[at + 1 :]
        changed.append(command)
    assert changed != commands, f"no command grants {operation} on {topic}"
    return changed


async def service_settings(kafka: AclKafka, prefix: str, tmp_path: Path) -> Settings:
    """The hedger as `User:hedger` over SASL_SSL, exactly once, its topics created (through
    PLAINTEXT), snapshots every second, the HTTP control endpoint on."""
    tokens = tmp_path / "control-tokens"
    tokens.write_text(f"desk {TOKEN}\n")
    plain = await hedger_settings(
        kafka.broker.bootstrap,
        prefix,
        rate=mm.RATE,
        lot_size=100.0,
        delivery="exactly_once",
        snapshot_interval_s=1.0,
        control_tokens_file=str(tokens),
        broker_wait_s=30.0,
    )
    return dataclasses.replace(
        plain,
        kafka_bootstrap=kafka.broker.secure_bootstrap,
        kafka_security_protocol="SASL_SSL",
        kafka_ssl_ca_file=str(kafka.ca_file),
        kafka_sasl_mechanism=MECHANISM,
        kafka_sasl_username="hedger",
        kafka_sasl_password_file=str(kafka.password_file("hedger")),
    )


def client_of(kafka: AclKafka, user: str) -> AIOKafkaProducer:
    """A producer that logs in as `user` over SASL_SSL (not through the hedger's
    environment-wide security settings: each user here is a client of its own)."""
    return AIOKafkaProducer(
        bootstrap_servers=kafka.broker.secure_bootstrap,
        security_protocol="SASL_SSL",
        ssl_context=create_ssl_context(cafile=str(kafka.ca_file)),
        sasl_mechanism=MECHANISM,
        sasl_plain_username=user,
        sasl_plain_password=USERS[user],
        request_timeout_ms=10_000,
    )


def hedger_denials(kafka: AclKafka, settings: Settings) -> list[str]:
    """The requests of `User:hedger` on this test's resources the broker denied."""
    prefix = settings.group_id.removesuffix(DEFAULTS.group_id)
    return [
        line
        for line in kafka.broker.denials()
        if "Principal = User:hedger is Denied" in line and f":{prefix}" in line
    ]


async def position(kafka: AclKafka, settings: Settings) -> None:
    """The market maker's vol and its client's call purchase, until the hedger holds the book."""
    async with Producer(kafka.broker.bootstrap) as feed:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
    await wait_until(lambda: has_book(settings, "mm-1"))


async def send_prices(kafka: AclKafka, settings: Settings, *values: bytes) -> None:
    async with Producer(kafka.broker.bootstrap) as feed:
        for value in values:
            await feed.send(settings.prices_topic, value, "XYZ")


async def post_kill(settings: Settings, book: str, engaged: bool) -> int:
    url = f"http://127.0.0.1:{settings.metrics_port}/control/kill"
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json={"book": book, "engaged": engaged}, headers=headers) as answer,
    ):
        return answer.status


async def kill_switches(settings: Settings) -> dict[str, str]:
    return dict((await books(settings))["kill_switches"])


def test_the_how_to_lists_the_acls_the_readme_lists() -> None:
    assert acl_block(HOW_TO) == acl_block(README)


@pytest.mark.broker
async def test_the_hedger_hedges_and_rebuilds_with_only_the_acls_the_readme_lists(
    acl_kafka: AclKafka, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await service_settings(acl_kafka, topic_prefix, tmp_path)
    await grant(acl_kafka, settings, readme_acl_commands())
    plain = acl_kafka.broker.bootstrap
    async with child_hedger(settings) as hedger:
        await position(acl_kafka, settings)
        await send_prices(acl_kafka, settings, b"not json", encode_tick(mm.tick(100.0, 0)))
        (order,) = await read_messages(plain, settings.orders_topic, 1)
        assert (order["book"], order["side"], order["qty"]) == ("mm-1", "sell", 6000)
        assert len(await read_topic(plain, settings.dlq_topic, 1)) == 1
        assert await post_kill(settings, "mm-1", engaged=True) == 202  # the .control id
        await wait_until(lambda: kill_switches(settings))
        await read_topic(plain, settings.snapshot_topic, 1)
        assert hedger.poll() is None, hedger.said()
    async with child_hedger(settings) as rebuilt:
        assert await has_book(settings, "mm-1")
        assert await kill_switches(settings) == {"mm-1": "desk"}
        assert "rebuilding from a snapshot" in rebuilt.said()
        assert "Traceback" not in rebuilt.said()
    assert hedger_denials(acl_kafka, settings) == []


@pytest.mark.broker
async def test_only_a_principal_with_write_on_the_control_topic_can_set_a_kill_switch(
    acl_kafka: AclKafka, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await service_settings(acl_kafka, topic_prefix, tmp_path)
    await grant(acl_kafka, settings, readme_acl_commands())
    topic = settings.control_topic
    async with child_hedger(settings):
        await position(acl_kafka, settings)
        async with client_of(acl_kafka, "intruder") as intruder:
            with pytest.raises(TopicAuthorizationFailedError):
                await send_kill(intruder, topic, "mm-1", engaged=True, by="intruder")
        async with client_of(acl_kafka, "operator") as operator:
            await send_kill(operator, topic, "mm-1", engaged=True, by="operator")
            await wait_until(lambda: kill_switches(settings))
            assert await kill_switches(settings) == {"mm-1": "operator"}
            async with client_of(acl_kafka, "intruder") as intruder:
                with pytest.raises(TopicAuthorizationFailedError):
                    await send_kill(intruder, topic, "mm-1", engaged=False, by="intruder")
            # A later record of the operator's, applied: the intruder's would be before it.
            await send_kill(operator, topic, ALL_BOOKS, engaged=True, by="operator")
            await wait_until(lambda: _has_switch(settings, ALL_BOOKS))
        assert await kill_switches(settings) == {"mm-1": "operator", ALL_BOOKS: "operator"}
    written = await read_messages(acl_kafka.broker.bootstrap, topic, 2)
    assert {record["by"] for record in written} == {"operator"}


async def send_kill(
    producer: AIOKafkaProducer, topic: str, scope: str, *, engaged: bool, by: str
) -> None:
    event = KillSwitchSet(scope, engaged, time.time_ns(), by)
    await producer.send_and_wait(topic, encode_control(event), key=scope.encode())


async def _has_switch(settings: Settings, scope: str) -> bool:
    return scope in await kill_switches(settings)


@pytest.mark.broker
async def test_without_write_on_the_order_topic_the_hedger_stops_naming_the_topic(
    acl_kafka: AclKafka, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await service_settings(acl_kafka, topic_prefix, tmp_path)
    orders = settings.orders_topic
    commands = without_topic(readme_acl_commands(), "Write", DEFAULTS.orders_topic)
    await grant(acl_kafka, settings, commands)
    async with child_hedger(settings) as hedger:
        await position(acl_kafka, settings)
        await send_prices(acl_kafka, settings, encode_tick(mm.tick(100.0, 0)))
        await wait_until(lambda: hedger.poll() is not None)
        said = hedger.said()
    assert hedger.returncode != 0
    assert "stopped on an error: TopicAuthorizationFailedError: " in said, said
    assert orders in said, said
    assert await records_now(acl_kafka.broker.bootstrap, orders) == []
    assert any(
        "operation = WRITE " in denial and f"Topic:LITERAL:{orders} " in denial
        for denial in hedger_denials(acl_kafka, settings)
    )


@pytest.mark.broker
async def test_without_its_transactional_id_the_hedger_refuses_to_start_with_one_line(
    acl_kafka: AclKafka, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await service_settings(acl_kafka, topic_prefix, tmp_path)
    commands = [c for c in readme_acl_commands() if "--transactional-id" not in c]
    await grant(acl_kafka, settings, commands)
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "hedger.cli", "run"],
        env=environment(settings),
        capture_output=True,
        text=True,
        timeout=60,
    )
    transactional_id = f"{settings.group_id}.{settings.instance_id}"
    assert done.returncode == 2, done.stderr
    refusals = [line for line in done.stderr.splitlines() if line.startswith("hedger: ")]
    assert refusals == [
        f"hedger: could not start the transactional producer {transactional_id!r}:"
        f" TransactionalIdAuthorizationFailed({transactional_id!r})"
    ], done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.broker
async def test_without_describe_configs_the_hedger_runs_and_says_what_it_did_not_check(
    acl_kafka: AclKafka, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await service_settings(acl_kafka, topic_prefix, tmp_path)
    commands = [c for c in readme_acl_commands() if "DescribeConfigs" not in c]
    await grant(acl_kafka, settings, commands)
    async with child_hedger(settings) as hedger:
        said = hedger.said()
    (warning,) = [line for line in said.splitlines() if "would not give the configs" in line]
    for topic in settings.topics:
        assert f"{topic!r} (TopicAuthorizationFailedError)" in warning, warning
    assert warning.endswith("their compaction and size limits are not checked"), warning
