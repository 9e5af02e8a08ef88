"""An independent client on Apache Kafka: the official Java console consumer, run from the
broker's own jars, reads the hedge orders the service published."""

from __future__ import annotations

import asyncio
import subprocess

import orjson
import pytest

from hedger.adapters.apache_kafka import kafka_jars
from hedger.codec import encode_tick
from tests.integration.harness import (
    Producer,
    read_topic,
    running_exchange,
    running_hedger,
    wait_until,
)
from tests.integration.test_hedger_e2e import example_settings, send_position, settled
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

CONSOLE_CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
CONSUMER_TIMEOUT_MS = 30_000


def java_console_consumer(bootstrap: str, topic: str, count: int) -> list[tuple[str, bytes]]:
    """(key, value) of the first `count` records of `topic`, as the Java client reads them."""
    command = ["java", "-Xmx256m", "-cp", f"{kafka_jars()}/*", CONSOLE_CONSUMER]
    command += ["--bootstrap-server", bootstrap, "--topic", topic, "--from-beginning"]
    command += ["--max-messages", str(count), "--timeout-ms", str(CONSUMER_TIMEOUT_MS)]
    command += ["--isolation-level", "read_committed"]
    command += ["--property", "print.key=true", "--property", "key.separator=\t"]
    done = subprocess.run(command, capture_output=True, timeout=120, check=True)
    lines = done.stdout.decode().splitlines()
    return [(key, value.encode()) for key, value in (line.split("\t", 1) for line in lines)]


async def test_java_console_consumer_reads_the_orders_the_service_sent(
    apache_bootstrap: str, topic_prefix: str
) -> None:
    settings = await example_settings(apache_bootstrap, topic_prefix)
    async with (
        running_hedger(settings) as service,
        running_exchange(settings),
        Producer(apache_bootstrap) as feed,
    ):
        await send_position(feed, settings)
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        await read_topic(apache_bootstrap, settings.orders_topic, 1)
        await wait_until(lambda: settled(service))
        await feed.send(settings.prices_topic, encode_tick(mm.tick(102.0, 60)), "XYZ")
        ours = await read_topic(apache_bootstrap, settings.orders_topic, 2)

    theirs = await asyncio.to_thread(
        java_console_consumer, apache_bootstrap, settings.orders_topic, 2
    )
    assert theirs == [(record.key.decode(), record.value) for record in ours]
    read = [orjson.loads(value) for _key, value in theirs]
    assert [(o["book"], o["side"], o["qty"]) for o in read] == [
        ("mm-1", "sell", 6000),
        ("mm-1", "sell", 500),
    ]
