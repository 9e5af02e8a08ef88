"""`tick_to_order`: how long a live `hedger run` takes to answer a tick with its hedge order.

An independent librdkafka client (confluent-kafka) sends `TICKS` ticks at `RATE_HZ` to the
price topic of a `hedger run` child process and times each one, from just before its
`produce()` to the moment its hedge order (matched by the order's `ts`, the tick's event
time) comes out of a librdkafka consumer `assign()`ed to the order topic. The book holds
10,000 long calls; each tick moves the spot 0.02 up, which moves its delta ~5 shares, past
the 1-share band, so every tick is answered by one order: the minimum interval and the
rate limits are lifted (the per-book one by a policy file), and the move never reverses,
so nothing latches.

Baseline, same run, same broker, same measuring client: a bare aiokafka relay in its own
process (consumer `fetch_max_wait_ms=5`, `getmany` + one `send` per record with acks=all,
the hedger's producer settings) relaying each tick as one record.
Both on the embedded broker (Tansu) and on Apache Kafka; gap = ours p99 - relay p99.

The measuring consumer fetches with `fetch.wait.max.ms=1`: Tansu holds every fetch for its
full wait, so a longer wait would be added to both sides' figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
from confluent_kafka import Consumer, Producer, TopicPartition

from benchmarks.timing import progress
from hedger.adapters.apache_kafka import ApacheKafka
from hedger.adapters.embedded_broker import EmbeddedBroker, free_port
from hedger.adapters.kafka import deliver, make_consumer, make_producer
from hedger.adapters.topics import ensure_topics
from hedger.codec import encode_fill, encode_tick
from hedger.config import Settings
from hedger.core.events import FillReport, PriceTick, Side
from hedger.core.instruments import OptionContract

TICKS = 300
WARM_UP = 20
RATE_HZ = 50.0
RELAY_FETCH_MAX_WAIT_MS = 5
DEADLINE_S = 60.0
ANSWER_GRACE_S = 5.0

SYMBOL, BOOK = "XYZ", "bench-t2o"
# Live ticks are stamped about now: the service refuses event times far ahead of the
# record's Kafka timestamp (HEDGER_MAX_EVENT_AHEAD_S). The call expires in about 60 days.
START_NS = time.time_ns() // 1_000_000_000 * 1_000_000_000
EXPIRY = (dt.datetime.fromtimestamp(START_NS / 1e9, dt.UTC) + dt.timedelta(days=60)).date()
CALL = OptionContract(SYMBOL, EXPIRY, True, 100.0)
TICK_EVERY_NS = round(1e9 / RATE_HZ)
SPOT_STEP = 0.02


# The per-book token bucket (event time) would refuse most of 50 orders a second.
POLICY = "[default]\norders_per_minute = 1000000\norder_burst = 1000000\n"


def settings(bootstrap: str, prefix: str, policy_file: str | None = None) -> Settings:
    return Settings(
        kafka_bootstrap=bootstrap,
        http_host="127.0.0.1",
        metrics_port=free_port(),
        prices_topic=prefix + "prices",
        fills_topic=prefix + "fills",
        orders_topic=prefix + "orders",
        dlq_topic=prefix + "dlq",
        control_topic=prefix + "control",
        snapshot_topic=prefix + "snapshots",
        group_id=prefix + "hedger",
        instance_id="bench",
        rate=0.04,
        default_vol=0.30,
        default_multiplier=1.0,
        band_shares=1.0,
        lot_size=1.0,
        min_interval_ms=0,
        total_orders_per_minute=1e6,
        total_order_burst=1e6,
        merge_wait_ms=0,
        log_level="WARNING",
        policy_file=policy_file,
    )


def environment(config: Settings) -> dict[str, str]:
    """The HEDGER_* variables that configure a child `hedger run` like `config`."""
    env = dict(os.environ)
    for setting in dataclasses.fields(Settings):
        value = getattr(config, setting.name)
        if value is None:
            continue
        if isinstance(value, frozenset):
            value = ",".join(sorted(value))
        elif isinstance(value, dt.time):
            value = value.strftime("%H:%M")
        env[setting.metadata["env"]] = str(value)
    return env


def ticks() -> list[PriceTick]:
    """Warm-up and timed ticks, one `TICK_EVERY_NS` of event time apart, spot rising."""
    out = []
    for i in range(WARM_UP + TICKS):
        spot = round(100.0 + SPOT_STEP * i, 2)
        ts_ns = START_NS + i * TICK_EVERY_NS
        out.append(PriceTick(SYMBOL, ts_ns, spot - 0.01, spot + 0.01, None, spot))
    return out


def long_calls() -> FillReport:
    return FillReport(
        fill_id="bench-t2o-1",
        book=BOOK,
        instrument=CALL.occ_symbol,
        side=Side.BUY,
        qty=10_000,
        price=5.0,
        ts_ns=START_NS - 1_000_000_000,
        multiplier=1,
    )


def producer(bootstrap: str) -> Producer:
    # linger 0: a tick goes out at once. Idempotence off: the embedded broker rejects it.
    settings = {"linger.ms": 0, "acks": "all", "enable.idempotence": False}
    return Producer({"bootstrap.servers": bootstrap, **settings})


def time_answers(
    bootstrap: str, in_topic: str, out_topic: str, answer_ts: Callable[[bytes], int | None]
) -> dict[str, Any]:
    """Send the ticks to `in_topic` at `RATE_HZ`; time each to its answer on `out_topic`
    (`answer_ts` reads the tick's event time from an answer, None for other records)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-t2o-{uuid.uuid4().hex}",  # never joins: assign() only
            "enable.auto.commit": False,
            "fetch.wait.max.ms": 1,
            "fetch.min.bytes": 1,
        }
    )
    consumer.assign([TopicPartition(out_topic, 0, 0)])
    feed = producer(bootstrap)
    all_ticks = ticks()
    sent_at: dict[int, float] = {}
    latencies: dict[int, float] = {}
    timed = {tick.ts_ns for tick in all_ticks[WARM_UP:]}
    clock = time.perf_counter

    def take(timeout_s: float) -> None:
        message = consumer.poll(max(timeout_s, 0.0))
        now = clock()
        if message is None or message.error() is not None:
            return
        ts = answer_ts(message.value() or b"")
        if ts in sent_at and ts not in latencies:
            latencies[ts] = now - sent_at[ts]

    try:
        began = clock()
        for i, tick in enumerate(all_ticks):
            due = began + i / RATE_HZ
            while (left := due - clock()) > 0:
                take(left)
            value = encode_tick(tick)
            sent_at[tick.ts_ns] = clock()
            feed.produce(in_topic, value, key=SYMBOL.encode())
            feed.poll(0)
            if i == WARM_UP - 1:  # the first order is the big one: let it settle untimed
                wait_answers(take, latencies, set(sent_at), DEADLINE_S)
                began = clock() - (i + 1) / RATE_HZ
        wait_answers(take, latencies, timed, ANSWER_GRACE_S)
        feed.flush(10)
    finally:
        consumer.close()
    samples = [latencies[ts] for ts in sorted(timed) if ts in latencies]
    return {**latency_ms(samples), "missing": len(timed) - len(samples)}


def wait_answers(
    take: Callable[[float], None], latencies: dict[int, float], wanted: set[int], timeout_s: float
) -> None:
    deadline = time.perf_counter() + timeout_s
    while not wanted <= latencies.keys() and time.perf_counter() < deadline:
        take(0.05)


def latency_ms(samples_s: list[float]) -> dict[str, Any]:
    if not samples_s:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None, "answered": 0}
    values = np.asarray(samples_s) * 1000.0
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 3),
        "p99_ms": round(float(np.percentile(values, 99)), 3),
        "max_ms": round(float(values.max()), 3),
        "answered": len(samples_s),
    }


def order_ts(value: bytes) -> int | None:
    message = orjson.loads(value)
    return int(message["ts"]) if message.get("type") == "order" else None


def tick_ts(value: bytes) -> int | None:
    return int(orjson.loads(value)["ts"])


# --- the hedger under test -------------------------------------------------------------


def http_get(config: Settings, path: str) -> bytes | None:
    url = f"http://127.0.0.1:{config.metrics_port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError):
        return None


def wait_for(condition: Callable[[], bool], what: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f"{what}: the child exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {DEADLINE_S} s")
        time.sleep(0.05)


@contextlib.contextmanager
def child(
    command: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=log)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
            if process.returncode not in (0, -15):
                log.seek(0)
                tail = log.read()[-2000:]
                progress(f"child {command[-1]} exited {process.returncode}: {tail!r}")


def measure_service(bootstrap: str, config: Settings) -> dict[str, Any]:
    with child([sys.executable, "-m", "hedger.cli", "run"], environment(config)) as process:
        wait_for(lambda: http_get(config, "/readyz") is not None, "hedger ready", process)
        feed = producer(bootstrap)
        feed.produce(config.fills_topic, encode_fill(long_calls()), key=BOOK.encode())
        feed.flush(10)
        wait_for(lambda: _booked(config), "position booked", process)
        result = time_answers(bootstrap, config.prices_topic, config.orders_topic, order_ts)
        result["metric"] = _histogram(config)
    return result


def _booked(config: Settings) -> bool:
    body = http_get(config, "/books")
    return body is not None and any(
        exposure.get("book") == BOOK for exposure in orjson.loads(body)["exposures"]
    )


def _histogram(config: Settings) -> dict[str, Any]:
    """Count and mean of the service's own `hedger_tick_to_order_latency_seconds`."""
    body = (http_get(config, "/metrics") or b"").decode()
    values = {}
    for line in body.splitlines():
        for suffix in ("_sum", "_count"):
            if line.startswith(f"hedger_tick_to_order_latency_seconds{suffix} "):
                values[suffix] = float(line.split()[1])
    count, total = values.get("_count", 0.0), values.get("_sum", 0.0)
    mean = round(total / count * 1000.0, 3) if count else None
    return {"what": "hedger_tick_to_order_latency_seconds", "count": count, "mean_ms": mean}


def measure_relay(bootstrap: str, in_topic: str, out_topic: str) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.tick_to_order", bootstrap, in_topic, out_topic]
    with child(command) as process:
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            raise RuntimeError("relay did not start")
        return time_answers(bootstrap, in_topic, out_topic, tick_ts)


async def relay(bootstrap: str, in_topic: str, out_topic: str) -> None:
    """The bare baseline: relay each tick as one record, acks=all, until terminated."""
    from aiokafka.structs import TopicPartition as AioPartition

    consumer = make_consumer(
        bootstrap, "bench-relay", None, fetch_max_wait_ms=RELAY_FETCH_MAX_WAIT_MS
    )
    out = make_producer(bootstrap, "bench-relay")
    await consumer.start()
    await out.start()
    consumer.assign([AioPartition(in_topic, 0)])
    await consumer.getmany(timeout_ms=100)  # position resolved: ticks from here are relayed
    print("ready", flush=True)
    while True:
        batch = await consumer.getmany(timeout_ms=1000)
        records = [record for tp in sorted(batch) for record in batch[tp]]
        sends = [await out.send(out_topic, r.value, key=r.key) for r in records]
        await deliver(sends, timeout_s=10.0)


def measure(name: str, bootstrap: str) -> dict[str, Any]:
    prefix = f"bench.t2o.{uuid.uuid4().hex[:8]}."
    with tempfile.TemporaryDirectory() as folder:
        policy = os.path.join(folder, "policies.toml")
        with open(policy, "w") as file:
            file.write(POLICY)
        return _measure(name, bootstrap, settings(bootstrap, prefix, policy), prefix)


def _measure(name: str, bootstrap: str, config: Settings, prefix: str) -> dict[str, Any]:
    relay_in, relay_out = prefix + "relay.in", prefix + "relay.out"
    asyncio.run(ensure_topics(bootstrap, [*config.topics, relay_in, relay_out]))
    progress(f"tick_to_order[{name}]: relay")
    bare = measure_relay(bootstrap, relay_in, relay_out)
    progress(f"tick_to_order[{name}]: hedger run")
    ours = measure_service(bootstrap, config)
    gap = None
    if ours["p99_ms"] is not None and bare["p99_ms"] is not None:
        gap = round(ours["p99_ms"] - bare["p99_ms"], 3)
    return {
        "name": f"tick_to_order[broker={name},ticks={TICKS},rate_hz={RATE_HZ:g}]",
        "ours": ours,
        "baseline": {
            **bare,
            "what": f"bare aiokafka relay (fetch_max_wait_ms={RELAY_FETCH_MAX_WAIT_MS}, acks=all)",
        },
        "p99_gap_ms": gap,
    }


def run() -> list[dict[str, Any]]:
    progress(f"tick_to_order: {TICKS} ticks at {RATE_HZ:g}/s, each to its hedge order")
    results = []
    with EmbeddedBroker() as bootstrap:
        results.append(measure("tansu", bootstrap))
    with ApacheKafka() as bootstrap:
        results.append(measure("apache_kafka", bootstrap))
    return results


if __name__ == "__main__":  # the relay child: python -m benchmarks.tick_to_order BOOTSTRAP IN OUT
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(relay(*sys.argv[1:4]))
