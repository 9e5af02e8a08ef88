"""The console commands against a real broker, their output piped (not a terminal): the
replay sends its feed, Ctrl-C mid-run says what was done and exits 130, and the demo says
where its broker is."""

from __future__ import annotations

import asyncio
import re
import socket

import orjson
import pytest

from hedger.adapters.broker_process import HOST, free_port
from hedger.adapters.topics import highwaters
from tests.cli.commands import REPLAY, Started, module, one_line, run
from tests.conftest import KafkaTopics

pytestmark = pytest.mark.broker

INTERRUPTED = 130
FEED_RECORDS = 3636


@pytest.mark.parametrize("flags", [[], ["--no-progress"]], ids=["piped", "no-progress"])
async def test_replay_with_no_terminal_sends_the_feed(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, flags: list[str]
) -> None:
    prices, fills = await kafka_topics("md.prices", "exec.fills")
    argv = [*module(*REPLAY), "--speed", "0", "--bootstrap", kafka_bootstrap, *flags]
    argv += ["--prices-topic", prices, "--fills-topic", fills]
    result = await asyncio.to_thread(run, argv)

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    summary = orjson.loads(result.stdout)
    assert sum(summary["records_by_topic"].values()) == FEED_RECORDS


async def test_replay_stopped_by_ctrl_c_mid_run_says_what_it_sent(
    kafka_bootstrap: str, kafka_topics: KafkaTopics
) -> None:
    prices, fills = await kafka_topics("md.prices", "exec.fills")
    # 30 minutes of the feed at 5x: six minutes, so Ctrl-C comes mid-run.
    argv = [*module(*REPLAY), "--speed", "5", "--bootstrap", kafka_bootstrap]
    argv += ["--prices-topic", prices, "--fills-topic", fills]
    with Started(argv) as command:
        while not sum((await highwaters(kafka_bootstrap, prices)).values()):
            assert command.process.poll() is None, command.said
            await asyncio.sleep(0.1)
        status = await asyncio.to_thread(command.interrupt)

    assert status == INTERRUPTED, command.said
    said = re.fullmatch(r"replay: interrupted; sent (\d+) records \(.+\)", one_line(command.said))
    assert said is not None, command.said
    assert 0 < int(said[1]) < FEED_RECORDS
    assert command.stdout == []


async def test_paper_exchange_stopped_by_ctrl_c_mid_run_logs_its_summary(
    kafka_bootstrap: str, kafka_topics: KafkaTopics, topic_prefix: str
) -> None:
    orders, fills = await kafka_topics("hedger.orders", "exec.fills")
    argv = module("producers.paper_exchange", "--bootstrap", kafka_bootstrap)
    argv += ["--orders-topic", orders, "--fills-topic", fills, "--group-id", topic_prefix]
    argv += ["--prices-topic", f"{topic_prefix}md.prices"]  # not created
    with Started(argv) as command:
        # Started, and waiting for the prices topic to exist.
        await asyncio.to_thread(command.wait_for, "does not exist")
        status = await asyncio.to_thread(command.interrupt)

    assert status == INTERRUPTED, command.said
    assert "Traceback" not in command.said
    assert "stopped: 0 orders filled" in command.stderr[-1]


def test_demo_says_where_its_broker_is_and_ctrl_c_stops_it() -> None:
    argv = module("hedger.cli", "demo", "--keep-running")
    with Started(argv, HEDGER_METRICS_PORT=str(free_port())) as command:
        serving = command.wait_for("serving http")
        address = re.search(r"embedded broker on (\S+?);", command.stdout[0])
        assert address is not None, command.stdout
        assert f"the broker on {address[1]}" in serving
        host, port = address[1].rsplit(":", 1)
        assert host == HOST
        with socket.create_connection((host, int(port)), timeout=5):
            pass  # it answers there
        status = command.interrupt()

    assert status == INTERRUPTED, command.said
    assert "Traceback" not in command.said
    assert "hedger demo summary" in "".join(command.stdout)
