"""A Hypothesis state machine over a bad day, against a real broker and `hedger run`.

Steps, in any order: ticks of two underlyings, client option trades in two books, absurd
but well-formed records (a tick dated 2100, a price of 1e12, a vol of 1e300, fills of 2^70
contracts or from a book outside the allow-list, a fill id reused with other terms),
records over the size limit on the price and fill topics, records delivered twice,
SIGKILLs, SIGKILLs at a crash point of the next batch holding an order (after deciding,
after sending, after the acknowledgement: `HEDGER_CRASH_AT`), graceful restarts, inputs
that arrive while the hedger is down and, on Apache Kafka, a second instance joining and
leaving (two rebalances); the partition count (1, 2 or 6) is drawn per example. After each
example the stream drains (three steady ticks per underlying, then everything handled), and:

- no order id is on the order topic twice;
- every book's delta is that of a pure engine replaying the accepted fills and ticks, its
  working shares are the orders on the topic and it holds no shares (nothing fills them);
- every book not latched (a reused fill id latches its books) is inside its band;
- no order was decided on a refused input (each order's trigger names an accepted tick or
  fill) and none for a latched book after its latch;
- every refused record is on the dead-letter topic (at least once: a dead letter sent
  before a kill can be sent again).

`HEDGER_MACHINE_EXAMPLES` examples (default 12) of up to 10 steps per broker tier; no
shrinking (an example takes seconds): a failure prints the steps as drawn.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import os
import signal
import time
from collections import defaultdict
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.engine import HedgeEngine
from hedger.core.events import Event, FillReport, PriceTick, Side, VolUpdate
from hedger.core.instruments import OptionContract
from hedger.crash_points import POINTS
from tests.integration.harness import (
    HedgerProcess,
    Producer,
    books,
    free_port,
    handled_everything,
    hedger_settings,
    is_ready,
    metric,
    read_all,
    read_topic,
    wait_until,
)

pytestmark = pytest.mark.broker

EXAMPLES = int(os.environ.get("HEDGER_MACHINE_EXAMPLES", "12"))
SECOND = 1_000_000_000
BOOKS = ("mm-1", "mm-2")
UNDERLYINGS = ("XYZ", "ABC")
EXPIRY = dt.date(2027, 6, 18)
MAX_MESSAGE_BYTES = 65536
ABSURD = ("tick_2100", "price_1e12", "vol_1e300", "fill_2e70", "unknown_book", "reused_id")
_example = itertools.count()


class BadDay(RuleBasedStateMachine):
    bootstrap = prefix = ""  # set by the test, per broker tier
    rebalances = False

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.hedger: HedgerProcess | None = None
        # Event time an hour behind the wall clock: never ahead of a record's timestamp.
        self.now_ns = time.time_ns() - 3600 * SECOND
        self.marks = dict.fromkeys(UNDERLYINGS, 100.0)
        self.accepted: list[Event] = []
        self.triggers: set[str] = set()
        self.fills: dict[str, FillReport] = {}
        self.refused: set[tuple[str, int, int]] = set()
        self.reused_ids_at: dict[str, int] = {}  # book: event time of its first reused id
        self.fill_ids = itertools.count(1)
        self.sent: list[tuple[str, bytes, str]] = []  # accepted records: (topic, value, key)
        self.crash_armed = False  # the hedger dies at its next crash point
        self.partitions = 1

    @initialize(partitions=st.sampled_from([1, 2, 6]))
    def start_the_day(self, partitions: int) -> None:
        prefix = f"{self.prefix}m{next(_example)}."
        self.partitions = partitions
        self.settings: Settings = self.run(
            hedger_settings(
                self.bootstrap,
                prefix,
                partitions=partitions,
                books=frozenset(BOOKS),
                max_message_bytes=MAX_MESSAGE_BYTES,
            )
        )
        self.feed: Producer = self.run(_open_feed(self.bootstrap))
        for symbol in UNDERLYINGS:
            vol = VolUpdate(symbol, self.next_ns(), 0.3)
            self.send(self.settings.prices_topic, encode_vol(vol), symbol, vol)
        self.start()

    # Inputs

    @rule(symbol=st.sampled_from(UNDERLYINGS), moves=st.lists(st.integers(-3, 3), max_size=8))
    def ticks(self, symbol: str, moves: list[int]) -> None:
        for move in moves:
            self.marks[symbol] = round(self.marks[symbol] + move * 0.1, 2)
            self.tick(symbol)

    @rule(
        book=st.sampled_from(BOOKS),
        symbol=st.sampled_from(UNDERLYINGS),
        is_call=st.booleans(),
        strike=st.sampled_from([95.0, 100.0, 105.0]),
        contracts=st.integers(1, 40),
        buys=st.booleans(),
    )
    def client_trade(
        self, book: str, symbol: str, is_call: bool, strike: float, contracts: int, buys: bool
    ) -> None:
        contract = OptionContract(symbol, EXPIRY, is_call, strike)
        fill = FillReport(
            f"C-{next(self.fill_ids)}",
            book,
            contract.occ_symbol,
            Side.BUY if buys else Side.SELL,
            contracts,
            2.5,
            self.next_ns(),
        )
        self.fills[fill.fill_id] = fill
        self.triggers.add(f"fill:{fill.fill_id}")
        self.send(self.settings.fills_topic, encode_fill(fill), book, fill)

    @rule(kind=st.sampled_from(ABSURD), symbol=st.sampled_from(UNDERLYINGS))
    def absurd_record(self, kind: str, symbol: str) -> None:
        ts_ns = self.next_ns()
        topic, key = self.settings.fills_topic, BOOKS[0]
        if kind == "reused_id" and not self.fills:
            kind = "fill_2e70"  # no fill id to reuse yet
        if kind == "tick_2100":
            value = encode_tick(_tick(symbol, 4_102_444_800 * SECOND, self.marks[symbol]))
            topic, key = self.settings.prices_topic, symbol
        elif kind == "price_1e12":
            value = encode_tick(_tick(symbol, ts_ns, 1e12))
            topic, key = self.settings.prices_topic, symbol
        elif kind == "vol_1e300":
            value = encode_vol(VolUpdate(symbol, ts_ns, 1e300))
            topic, key = self.settings.prices_topic, symbol
        elif kind == "reused_id":
            first = next(iter(self.fills.values()))
            reused = dataclasses.replace(first, qty=first.qty + 1, ts_ns=ts_ns)
            value, key = encode_fill(reused), first.book
            self.reused_ids_at.setdefault(first.book, ts_ns)
        else:
            book = "intruder" if kind == "unknown_book" else BOOKS[0]
            qty = 2.0**70 if kind == "fill_2e70" else 1.0
            contract = OptionContract(symbol, EXPIRY, True, 100.0)
            fill_id = f"X-{next(self.fill_ids)}"
            value = encode_fill(
                FillReport(fill_id, book, contract.occ_symbol, Side.BUY, qty, 2.5, ts_ns)
            )
        self.refused.add(self.send(topic, value, key))

    @rule(on_prices=st.booleans())
    def oversized_record(self, on_prices: bool) -> None:
        topic = self.settings.prices_topic if on_prices else self.settings.fills_topic
        value = b'{"type": "tick", "pad": "' + b"x" * (MAX_MESSAGE_BYTES + 100) + b'"}'
        self.refused.add(self.send(topic, value, UNDERLYINGS[0]))

    @precondition(lambda self: self.sent)
    @rule(data=st.data())
    def duplicate_delivery(self, data: st.DataObject) -> None:
        """A record the producer sent again (a retry after a lost acknowledgement)."""
        topic, value, key = data.draw(st.sampled_from(self.sent))
        self.run(self.feed.send(topic, value, key))

    # The hedger's life

    @precondition(lambda self: self.alive())
    @rule()
    def kill(self) -> None:
        assert self.hedger is not None
        self.hedger.send_signal(signal.SIGKILL)
        self.reap()

    @precondition(lambda self: self.alive())
    @rule()
    def restart(self) -> None:
        self.restart_as(self.settings)

    @precondition(lambda self: self.alive())
    @rule(point=st.sampled_from(POINTS))
    def crash_at_next_order(self, point: str) -> None:
        """Restarted to SIGKILL itself at `point` of its next batch holding an order (maybe
        one of the records already waiting, before it is seen ready)."""
        self.restart_as(dataclasses.replace(self.settings, crash_at=f"{point}:1"), armed=True)

    # With one partition the second instance would stand by, never ready. Rebalances are
    # drawn on Apache Kafka, the broker the service's group guarantees are stated for.
    @precondition(
        lambda self: (
            self.rebalances and self.alive() and not self.crash_armed and self.partitions > 1
        )
    )
    @rule()
    def rebalance(self) -> None:
        """A second instance joins the group, takes part of the books, and leaves."""
        other = dataclasses.replace(self.settings, instance_id="other", metrics_port=free_port())
        process = HedgerProcess(other)
        try:
            self.run(process.wait_ready(other))
            process.send_signal(signal.SIGTERM)
            assert process.wait(timeout=30) == 0, process.said()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        # Until the hedger has noticed the leave (a heartbeat later) and rebuilt, it holds
        # the books it had while sharing them, and says it is ready.
        self.run(wait_until(self.holds_every_fill_partition))

    async def holds_every_fill_partition(self) -> bool:
        """Ready, with a lag series (one per assigned partition) for each fill partition."""
        if not await is_ready(self.settings):
            return False
        for partition in range(self.partitions):
            lag = await metric(
                self.settings,
                "hedger_consumer_lag_messages",
                topic=self.settings.fills_topic,
                partition=str(partition),
            )
            if lag is None:
                return False
        return True

    @precondition(lambda self: not self.alive())
    @rule()
    def start(self) -> None:
        self.restart_as(self.settings)

    def restart_as(self, settings: Settings, armed: bool = False) -> None:
        if self.hedger is not None:
            was_armed = self.crash_armed
            if self.hedger.poll() is None:
                self.hedger.send_signal(signal.SIGTERM)
            code = self.reap()
            # Stopped, or died at its crash point (maybe while asked to stop).
            assert code == 0 or (was_armed and code == -signal.SIGKILL), code
        self.hedger = HedgerProcess(settings)
        self.crash_armed = armed
        self.run(self.hedger.wait_ready(settings, may_crash=armed))

    def alive(self) -> bool:
        return self.hedger is not None and self.hedger.poll() is None

    def teardown(self) -> None:
        try:
            if hasattr(self, "feed"):
                self.drain_and_check()
        finally:
            if self.hedger is not None:
                self.hedger.kill()
                self.reap()
            if hasattr(self, "feed"):
                self.run(self.feed.__aexit__())
            self.loop.close()

    # Checks

    def drain_and_check(self) -> None:
        if not self.alive() or self.crash_armed:
            self.restart_as(self.settings)
        for _ in range(3):  # steady ticks, further apart than the least order interval
            for symbol in UNDERLYINGS:
                self.now_ns += SECOND
                self.tick(symbol)
        self.run(wait_until(lambda: handled_everything(self.settings)))
        self.run(self.check())

    async def check(self) -> None:
        settings, bootstrap = self.settings, self.bootstrap
        orders = await read_all(bootstrap, settings.orders_topic)
        ids = [order["order_id"] for order in orders]
        assert len(ids) == len(set(ids)), "an order id was sent twice"
        # Latches: a reused fill id's, and the flip-flop latch's (many reversals).
        latched_at: dict[str, int] = {}
        for control in await read_all(bootstrap, settings.control_topic):
            if control["type"] == "latch":
                latched_at.setdefault(control["book"], control["ts"])
        for book, reused_ns in self.reused_ids_at.items():
            assert latched_at.get(book, reused_ns + 1) <= reused_ns, f"{book} not latched"
        for order in orders:
            assert order["trigger"] in self.triggers, f"decided on a refused input: {order}"
            latched_ns = latched_at.get(order["book"])
            assert latched_ns is None or order["ts"] < latched_ns, f"after its latch: {order}"
        working: dict[tuple[str, str], float] = defaultdict(float)
        for order in orders:
            working[(order["book"], order["symbol"])] += order["qty"] * Side(order["side"]).sign
        replayed = _replay(settings, self.accepted)
        state = await books(settings)
        held = {(e["book"], e["underlying"]): e for e in state["exposures"]}
        assert held.keys() == replayed.keys()
        for key, exposure in held.items():
            assert exposure["delta"] == pytest.approx(replayed[key], rel=1e-9, abs=1e-6), key
            assert exposure["working_shares"] == pytest.approx(working.get(key, 0.0)), key
            assert exposure["shares"] == 0.0, key
            if key[0] not in latched_at:
                net = exposure["delta"] + exposure["working_shares"]
                assert abs(net) <= settings.band_shares + settings.lot_size / 2, (key, net)
        letters = await read_topic(bootstrap, settings.dlq_topic, len(self.refused))
        sources = {
            (h["source_topic"].decode(), int(h["source_partition"]), int(h["source_offset"]))
            for h in (dict(letter.headers) for letter in letters)
        }
        assert self.refused <= sources, "a refused record was not dead-lettered"

    # Plumbing

    def tick(self, symbol: str) -> None:
        tick = _tick(symbol, self.next_ns(), self.marks[symbol])
        self.triggers.update((f"tick:{symbol}:{tick.ts_ns}", f"rebuilt:{symbol}:{tick.ts_ns}"))
        self.send(self.settings.prices_topic, encode_tick(tick), symbol, tick)

    def next_ns(self) -> int:
        self.now_ns += SECOND // 10
        return self.now_ns

    def send(
        self, topic: str, value: bytes, key: str, accepted: Event | None = None
    ) -> tuple[str, int, int]:
        """Send a record (`accepted`: the event it holds, if the hedger must take it); returns
        where it landed."""
        metadata = self.run(self.feed.send(topic, value, key))
        if accepted is not None:
            self.accepted.append(accepted)
            self.sent.append((topic, value, key))
        return topic, metadata.partition, metadata.offset

    def reap(self) -> int:
        assert self.hedger is not None
        code = self.hedger.wait(timeout=30)
        self.crash_armed = False
        self.hedger = None
        return code

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)


async def _open_feed(bootstrap: str) -> Producer:
    return await Producer(bootstrap).__aenter__()  # created in the loop it runs in


def _tick(symbol: str, ts_ns: int, mark: float) -> PriceTick:
    return PriceTick(symbol, ts_ns, mark - 0.01, mark + 0.01, None, mark)


def _replay(settings: Settings, accepted: list[Event]) -> dict[tuple[str, str], float]:
    """Each book's delta per underlying from a pure engine fed the accepted inputs."""
    engine = HedgeEngine(settings.engine_config())
    for event in sorted(accepted, key=lambda event: event.ts_ns):
        engine.handle(event)
    return {(e.book, e.underlying): e.delta for e in engine.exposures()}


def test_a_bad_day_is_hedged_or_refused_loudly(
    kafka_bootstrap: str, topic_prefix: str, request: pytest.FixtureRequest
) -> None:
    on_apache = request.node.callspec.params.get("kafka_bootstrap") == "apache"
    machine = type(
        "BadDayHere",
        (BadDay,),
        {"bootstrap": kafka_bootstrap, "prefix": topic_prefix, "rebalances": on_apache},
    )
    run = settings(
        max_examples=EXAMPLES,
        stateful_step_count=10,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )(machine).TestCase
    run().runTest()
