"""Kafka over TLS and SASL against a real Apache Kafka: a SASL_SSL listener with
SCRAM-SHA-256/512, its certificate (SAN IP:127.0.0.1, DNS:localhost) signed by a CA made
with the `openssl` command (`tests.integration.secure_kafka`).

The hedger (`hedger run`, a child process) and the replay tool reach the broker only
through that listener, configured by the HEDGER_KAFKA_* security variables; the test's own
setup and reading use the PLAINTEXT listener. A wrong password and an untrusted
certificate each stop `hedger run` at once with one line, not a minute of retries.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

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
from tests.integration.secure_kafka import (
    USER,
    SecureKafka,
    replay,
    run_replay,
    secure_kafka_broker,
    secured,
)
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

PASSWORD = "correct-horse-battery-staple"
WRONG_PASSWORD = "not-the-password-42"
REFUSAL_DEADLINE_S = 15.0


@pytest.fixture(scope="module")
def secure_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecureKafka]:
    folder = tmp_path_factory.mktemp("kafka-tls")
    with secure_kafka_broker(folder, PASSWORD, WRONG_PASSWORD) as kafka:
        yield kafka


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
