"""The services of docker-compose.yml built from the hedger image, run as compose runs them,
against the test broker: what `docker compose up` does with the bundled feed, without Docker.

Each service runs its compose command line (entrypoint and command, interpolated as compose
does with a user's `.env`: topics of this test only, the test broker, the replay as fast
as possible) with the environment compose gives it (its `environment:` over the image's
ENV), in the image stand-in (tests/ops/image_install.py) and with no TTY
(tests/ops/image_process.py), in compose's order: topic-init to success, the hedger until
ready (its healthcheck's /readyz), then the paper exchange and the replay to its end.

Proven: topic-init creates every topic with the partitions asked for; the replay exits 0
and prints its summary, every record of the bundled feed sent; the hedger hedges the feed
and the paper exchange fills each hedge in full; no service shows a traceback or leaves a
Kafka client open, and the long-running ones stop with 0 on SIGTERM. The bundled feed (30
minutes of event time, 3,636 records) plays in about 2.5 s at speed 0 (measured on both
tiers), so the test replays all of it.

Two things a container has that a process here has not, each stood in for:
- a bind mount: a path under the mount's target in the command is the host directory's,
  copied where the image's user can read it (a mount shows the directory whatever the
  modes of the host's folders above it; a checkout in a 0700 folder is closed to the user);
- a network namespace of its own: in it the hedger listens on 0.0.0.0:9108, which compose's
  `ports:` publishes on the host's 127.0.0.1:HEDGER_HOST_PORT. Here every service shares
  the host's, so the hedger listens on the published address itself (a free port).
"""

from __future__ import annotations

import collections
import dataclasses
import shlex
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest

from hedger.adapters.embedded_broker import free_port
from hedger.adapters.topics import describe_topics
from hedger.config import Settings
from tests.integration.harness import DEADLINE_S, handled_everything, read_all, wait_until
from tests.ops.image_install import ImageInstall, image_install
from tests.ops.image_process import ImageProcess, reaped
from tests.ops.test_compose import (
    HEDGER_IMAGE,
    argv,
    interpolate,
    interpolate_mapping,
    services,
    setting_variables,
)
from tests.ops.tools import COMPOSE_FILE, REPO

pytestmark = pytest.mark.broker

FEEDS = REPO / "producers" / "data"
# Generous: each takes a few seconds; the deadline only bounds a hung one.
TOPIC_INIT_TIMEOUT_S = 60.0
REPLAY_TIMEOUT_S = 60.0
# What a service must never say: a traceback, or a Kafka client it left open at its exit
# (aiokafka's "Unclosed AIOKafkaProducer" when one is collected unstopped).
UNCLEAN_SIGNS = ("Traceback", "Unclosed AIOKafka")


@pytest.fixture(scope="module")
def image() -> Iterator[ImageInstall]:
    with image_install() as install:
        yield install


@pytest.fixture(scope="module")
def mounted_feeds() -> Iterator[Path]:
    """The bundled feeds as the replay's bind mount shows them to the image's user."""
    folder = Path(tempfile.mkdtemp(prefix="hedger-feeds-"))
    try:
        folder.chmod(0o755)  # mkdtemp's 0700 would hide them as the checkout's folder may
        yield Path(shutil.copytree(FEEDS, folder / FEEDS.name))
    finally:
        shutil.rmtree(folder)


@dataclasses.dataclass(frozen=True)
class ComposeStack:
    """The hedger image's services of docker-compose.yml, with `variables` set as a user's
    `.env` sets them."""

    image: ImageInstall
    variables: Mapping[str, str]

    def start(self, name: str) -> ImageProcess:
        service = services()[name]
        assert service["image"] == HEDGER_IMAGE, name
        return ImageProcess(
            self.image,
            container_command(service, self.variables),
            container_environment(service, self.variables),
        )

    def settings(self, name: str) -> Settings:
        """What the service's settings are, read from its environment as it reads them."""
        environment = container_environment(services()[name], self.variables)
        return Settings.from_env(self.image.environment | environment)


def user_variables(bootstrap: str, prefix: str, feeds: Path) -> dict[str, str]:
    """A `.env` for this test: its own topics and groups, the test broker, the replay as
    fast as possible (speed 0) from `feeds` (the mount's source), the hedger's port free."""
    topics = {
        variable: prefix + default
        for variable, default in setting_variables().items()
        if variable.startswith("HEDGER_TOPIC_")
    }
    return topics | {
        "HEDGER_KAFKA_BOOTSTRAP": bootstrap,
        "HEDGER_GROUP_ID": prefix + "hedger",
        "HEDGER_HOST_PORT": str(free_port()),
        "REPLAY_SPEED": "0",
        "REPLAY_DIR": str(feeds),
    }


def container_command(service: dict[str, Any], variables: Mapping[str, str]) -> list[str]:
    """The service's command line, its paths under a bind mount's target made the host's."""
    mounts = bind_mounts(service, variables)
    return [_on_the_host(argument, mounts) for argument in argv(service, variables)]


def bind_mounts(service: dict[str, Any], variables: Mapping[str, str]) -> dict[str, Path]:
    """Each bind mount of `service`: its target -> its source (a relative one is relative to
    the compose file's directory, as compose takes it)."""
    mounts = {}
    for volume in interpolate(service.get("volumes", []), variables):
        source, target, *_ = volume.split(":")
        mounts[target] = COMPOSE_FILE.parent / source
    return mounts


def _on_the_host(argument: str, mounts: Mapping[str, Path]) -> str:
    for target, source in mounts.items():
        if argument == target or argument.startswith(target + "/"):
            return str(source) + argument.removeprefix(target)
    return argument


def container_environment(service: dict[str, Any], variables: Mapping[str, str]) -> dict[str, str]:
    """The variables compose sets in the container (on top of the image's ENV), the HTTP
    listener where compose publishes it."""
    mapping = interpolate_mapping(service.get("environment", {}), variables)
    environment = {name: str(value) for name, value in mapping}
    return environment | published_listener(service, environment, variables)


def published_listener(
    service: dict[str, Any], environment: Mapping[str, str], variables: Mapping[str, str]
) -> dict[str, str]:
    """HEDGER_HTTP_HOST and HEDGER_METRICS_PORT of the host address that compose's `ports:`
    publishes the service's port on (none for a service that publishes none)."""
    for port in interpolate(service.get("ports", []), variables):
        host, published, container = port.split(":")
        if container == environment.get("HEDGER_METRICS_PORT"):
            return {"HEDGER_HTTP_HOST": host, "HEDGER_METRICS_PORT": published}
    return {}


async def test_compose_stack_in_compose_order_hedges_the_bundled_feed_and_fills_the_hedges(
    image: ImageInstall, mounted_feeds: Path, kafka_bootstrap: str, topic_prefix: str
) -> None:
    variables = user_variables(kafka_bootstrap, topic_prefix, mounted_feeds)
    stack = ComposeStack(image, variables)
    settings = stack.settings("hedger")
    assert settings.metrics_port == int(stack.variables["HEDGER_HOST_PORT"])

    with reaped(stack.start("topic-init")) as topic_init:
        assert await topic_init.exited(TOPIC_INIT_TIMEOUT_S) == 0, topic_init.said()
    assert await partitions_of(settings) == dict.fromkeys(settings.topics, partitions_asked(stack))

    with reaped(stack.start("hedger")) as hedger:
        await hedger.wait_ready(settings)
        with reaped(stack.start("paper-exchange")) as exchange:
            with reaped(stack.start("replay")) as replay:
                replay_status = await replay.exited(REPLAY_TIMEOUT_S)
            assert replay_status == 0, replay.said()
            assert replay_summary(replay) == {
                "records_by_topic": feed_records_by_topic(stack, settings),
                "invalid_lines": 0,
            }
            await settled(settings, hedger, exchange)
            exchange_status = await exchange.stopped()
        hedger_status = await hedger.stopped()

    assert "\r" not in replay.logged()  # no progress bar drawn: it has no terminal
    hedges, fills = await hedges_and_their_fills(settings)
    assert len(hedges) >= 2
    assert filled_in_full(fills) == hedges
    for process in (topic_init, hedger, exchange, replay):
        said = process.said()
        assert [sign for sign in UNCLEAN_SIGNS if sign in said] == [], (process.argv, said)
    assert (exchange_status, hedger_status) == (0, 0), (exchange.said(), hedger.said())


def partitions_asked(stack: ComposeStack) -> int:
    command = argv(services()["topic-init"], stack.variables)
    return int(command[command.index("--partitions") + 1])


async def partitions_of(settings: Settings) -> dict[str, int]:
    """Each of the service's topics that exists, with its partition count."""
    found, _ = await describe_topics(settings.require_bootstrap(), settings.topics)
    return {name: topic.partitions for name, topic in found.items()}


def replay_summary(replay: ImageProcess) -> dict[str, Any]:
    """The replay's last line on stdout (its summary, JSON), without the event times."""
    lines = replay.printed().splitlines()
    assert lines, replay.said()
    summary = dict(orjson.loads(lines[-1]))
    return {key: summary[key] for key in ("records_by_topic", "invalid_lines")}


def feed_records_by_topic(stack: ComposeStack, settings: Settings) -> dict[str, int]:
    """How many records of the feed the replay sends go to each topic: fills to the fills
    topic, ticks and vols to the prices topic."""
    _python, _flag, _module, feed, *_ = container_command(services()["replay"], stack.variables)
    kinds = collections.Counter(
        orjson.loads(line)["type"] for line in Path(feed).read_bytes().splitlines()
    )
    fills = kinds.pop("fill")
    return {settings.prices_topic: kinds.total(), settings.fills_topic: fills}


async def settled(settings: Settings, *running: ImageProcess) -> None:
    """Until `everything_handled_and_filled`; fails with what the services said if it is
    not within `DEADLINE_S`."""
    try:
        await wait_until(lambda: everything_handled_and_filled(settings))
    except TimeoutError:
        said = "\n".join(f"{shlex.join(process.argv)}\n{process.said()}" for process in running)
        raise AssertionError(
            f"hedges not all handled and filled in {DEADLINE_S} s:\n{said}"
        ) from None


async def everything_handled_and_filled(settings: Settings) -> bool:
    """The hedger has handled every price and fill now on its topics (the exchange's fills
    too), and the exchange has filled every hedge now on the order topic: nothing moves."""
    if not await handled_everything(settings):
        return False
    hedges, fills = await hedges_and_their_fills(settings)
    return bool(hedges) and filled_in_full(fills) == hedges


async def hedges_and_their_fills(
    settings: Settings,
) -> tuple[dict[str, tuple[str, str, str, float]], list[dict[str, Any]]]:
    """The hedge orders by id as (book, symbol, side, qty), and the exchange's fills (those
    naming an order; the feed's client fills name none)."""
    bootstrap = settings.require_bootstrap()
    orders = await read_all(bootstrap, settings.orders_topic)
    hedges = {
        o["order_id"]: (o["book"], o["symbol"], o["side"], float(o["qty"]))
        for o in orders
        if o["type"] == "order"
    }
    fills = [f for f in await read_all(bootstrap, settings.fills_topic) if "order_id" in f]
    return hedges, fills


def filled_in_full(fills: list[dict[str, Any]]) -> dict[str, tuple[str, str, str, float]]:
    """What `fills` filled, by order id as (book, symbol, side, qty), their qty summed."""
    filled: dict[str, tuple[str, str, str, float]] = {}
    for fill in fills:
        book, symbol, side, qty = filled.get(
            fill["order_id"], (fill["book"], fill["instrument"], fill["side"], 0.0)
        )
        assert (book, symbol, side) == (fill["book"], fill["instrument"], fill["side"]), fill
        filled[fill["order_id"]] = (book, symbol, side, qty + float(fill["qty"]))
    return filled
