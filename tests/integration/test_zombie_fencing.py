"""A frozen instance whose books moved on (a zombie) sends nothing a committed reader sees.

Instance a hedges alone and freezes itself (SIGSTOP, `HEDGER_CRASH_AT=<point>:1:freeze`)
in the batch of its first hedge order: once the order is queued on its producer (nothing
on the broker yet), or once the broker has acknowledged the batch's records in its open
transaction (not committed).
Instance b starts, gets the books when a's session expires, rebuilds (read committed, so
it waits at a's open transaction until the coordinator aborts it) and sends the order.
Then a is resumed (SIGCONT):

- at `sent`, a sends the order in its transaction, finds before committing that the group
  has moved on (its offset commit is refused), aborts and rebuilds;
- at `acknowledged`, the coordinator has aborted a's transaction on its timeout and fenced
  its producer: a says so, starts a new producer and rebuilds.

Either way a read_committed reader sees the order once, from b, equal to what one
uninterrupted engine sends; read uncommitted, the zombie's copy is on the log, aborted.
On Apache Kafka only: the embedded broker has no transactions to fence with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import signal
import subprocess
from collections import Counter
from pathlib import Path

import orjson
import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import (
    HedgerProcess,
    Producer,
    free_port,
    hedger_settings,
    is_ready,
    read_all,
    records_now,
    wait_until,
)
from tests.integration.test_hedger_restart import reference_orders
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker

# How the zombie notices: its offset commit refused by the group (the transaction is then
# aborted, and it rebuilds), or its producer fenced (a new one, and it rebuilds).
NOTICED = {
    "sent": "commit lost to a rebalance",
    "acknowledged": "a new producer, and state rebuilt from the committed offsets",
}
# The broker's least session timeout: b waits this long for a's books.
SESSION_TIMEOUT_MS = 6_000


def frozen(process: subprocess.Popen[bytes]) -> bool:
    state = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return state == "T"


async def uncommitted_ids(settings: Settings) -> Counter[str]:
    records = await records_now(
        settings.require_bootstrap(), settings.orders_topic, committed=False
    )
    return Counter(orjson.loads(record.value or b"")["order_id"] for record in records)


@pytest.mark.parametrize("point", ["sent", "acknowledged"])
async def test_a_zombie_resumed_after_its_books_moved_sends_nothing_committed(
    apache_bootstrap: str, topic_prefix: str, point: str
) -> None:
    settings = await hedger_settings(
        apache_bootstrap,
        topic_prefix,
        rate=mm.RATE,
        band_shares=100.0,
        lot_size=100.0,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        instance_id="a",
    )
    zombie_settings = dataclasses.replace(settings, crash_at=f"{point}:1:freeze")
    heir_settings = dataclasses.replace(settings, instance_id="b", metrics_port=free_port())
    # The trade a second after the tick: the order is decided on it, by a as by b.
    trade = dataclasses.replace(mm.client_buys_calls(), ts_ns=mm.START_NS + mm.SECOND)
    inputs = [mm.vol(), mm.tick(100.0, 0), trade]
    zombie = HedgerProcess(zombie_settings)
    heir: HedgerProcess | None = None
    try:
        async with Producer(apache_bootstrap) as feed:
            await feed.send(settings.prices_topic, encode_vol(inputs[0]), "XYZ")
            await feed.send(settings.prices_topic, encode_tick(inputs[1]), "XYZ")
            await wait_until(lambda: is_ready(zombie_settings))
            await feed.send(settings.fills_topic, encode_fill(inputs[2]), "mm-1")
            await wait_until(lambda: frozen(zombie))
            heir = HedgerProcess(heir_settings)
            await wait_until(lambda: is_ready(heir_settings))
            await wait_until(lambda: _orders_committed(settings, 1))
        zombie.send_signal(signal.SIGCONT)
        # Resumed, it aborts (or finds aborted) its copy of the order, and says why.
        await wait_until(lambda: NOTICED[point] in zombie.said())
        committed = await read_all(apache_bootstrap, settings.orders_topic)
        on_the_log = await uncommitted_ids(settings)
        zombie.send_signal(signal.SIGTERM)
        exit_code = await asyncio.to_thread(zombie.wait, 30)
    finally:
        for process in (zombie, heir):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
                process.wait()

    expected = reference_orders(settings, inputs)
    assert [(o["order_id"], o["side"], o["qty"]) for o in committed] == expected
    assert len(expected) == 1
    assert on_the_log == Counter({expected[0][0]: 2})  # the zombie's copy, aborted
    log = zombie.said()
    assert "Traceback" not in log, log
    assert exit_code == 0, log


async def _orders_committed(settings: Settings, count: int) -> bool:
    return len(await read_all(settings.require_bootstrap(), settings.orders_topic)) >= count
