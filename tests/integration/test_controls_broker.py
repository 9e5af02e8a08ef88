"""Controls through the real broker: kill switch, flip-flop latch, stale feed, price jump.

The book is the docs' market maker (mm-1 long 10,000 calls on XYZ, delta 0.60 at 100);
no exchange runs, so hedge orders stay working and count toward the book's delta. Each
test waits for the hedger to commit every price record sent (so it has handled them)
before reading the order topic: "no order" is then a fact, not a race.
"""

from __future__ import annotations

import logging
import secrets
import signal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from hedger.core.events import FillReport, PriceTick, Side
from tests.integration.harness import (
    Producer,
    books,
    child_hedger,
    hedger_settings,
    metric,
    read_all,
    read_messages,
    running_hedger,
    wait_until,
)
from tests.integration.test_hedger_restart import wait_committed
from tests.scenarios import market_maker as mm

pytestmark = pytest.mark.broker


class Feed:
    """Sends the scenario's records and counts the price records, to wait on commits."""

    def __init__(self, producer: Producer, settings: Settings) -> None:
        self.producer = producer
        self.settings = settings
        self.prices_sent = 0

    async def position(self) -> None:
        await self.price(encode_vol(mm.vol()), "XYZ")
        await self.fill(mm.client_buys_calls())
        # Fills and prices are separate topics: let the position land before the ticks
        # after it, so the hedger handles the inputs in the order the scenario means.
        await wait_until(self._holds_position)

    async def _holds_position(self) -> bool:
        exposures = (await books(self.settings))["exposures"]
        return any(exposure["book"] == "mm-1" for exposure in exposures)

    async def fill(self, fill: FillReport) -> None:
        await self.producer.send(self.settings.fills_topic, encode_fill(fill), fill.book)

    async def price(self, value: bytes, key: str) -> None:
        await self.producer.send(self.settings.prices_topic, value, key)
        self.prices_sent += 1

    async def tick(self, spot: float, seconds: float, symbol: str = "XYZ") -> None:
        ts = mm.START_NS + round(seconds * mm.SECOND)
        await self.price(
            encode_tick(PriceTick(symbol, ts, spot - 0.01, spot + 0.01, None, spot)), symbol
        )

    async def handled(self) -> None:
        """Until the hedger has committed every price record sent so far."""
        await wait_committed(self.settings, self.prices_sent)


OPERATOR = "desk-alice"
TOKEN = secrets.token_hex(32)


async def control_settings(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, **overrides: Any
) -> Settings:
    """The scenario's settings, with `OPERATOR`'s `TOKEN` the one allowed to control."""
    tokens = tmp_path / "control-tokens"
    tokens.write_text(f"# principal token\n{OPERATOR} {TOKEN}\n")
    return await hedger_settings(
        kafka_bootstrap,
        topic_prefix,
        control_tokens_file=str(tokens),
        rate=mm.RATE,
        band_shares=100.0,
        lot_size=100.0,
        min_interval_ms=0,
        **overrides,
    )


async def post(
    settings: Settings, path: str, body: dict[str, Any], token: str | None = TOKEN
) -> tuple[int, Any]:
    url = f"http://127.0.0.1:{settings.metrics_port}{path}"
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def orders_on_topic(settings: Settings) -> list[dict[str, Any]]:
    return await read_all(settings.require_bootstrap(), settings.orders_topic)


async def refusals(settings: Settings, reason: str, underlying: str = "XYZ") -> float:
    labels = {"book": "mm-1", "underlying": underlying, "reason": reason}
    return await metric(settings, "hedger_order_refusals_total", **labels) or 0.0


async def kill_engaged(settings: Settings, scope: str) -> bool:
    return await metric(settings, "hedger_kill_switch_engaged", scope=scope) == 1.0


async def kill_released(settings: Settings, scope: str) -> bool:
    return await metric(settings, "hedger_kill_switch_engaged", scope=scope) == 0.0


async def test_kill_switch_stops_orders_survives_a_restart_and_releases(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await control_settings(kafka_bootstrap, topic_prefix, tmp_path)
    async with Producer(kafka_bootstrap) as producer:
        feed = Feed(producer, settings)
        async with child_hedger(settings) as first:
            await feed.position()
            await feed.tick(100.0, 0)
            (opening,) = await read_messages(kafka_bootstrap, settings.orders_topic, 1)
            status, answer = await post(
                settings, "/control/kill", {"book": "mm-1", "engaged": True, "by": "mallory"}
            )
            assert status == 202
            assert answer["published"]["engaged"] is True
            await wait_until(lambda: kill_engaged(settings, "mm-1"))
            # Engaging the switch cancelled the opening order, which was still working.
            (_, cancel) = await read_messages(kafka_bootstrap, settings.orders_topic, 2)
            await feed.tick(102.0, 60)  # would sell 500 more
            await feed.handled()
            assert await orders_on_topic(settings) == [opening, cancel]
            assert await refusals(settings, "kill_switch") >= 1
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)

        async with child_hedger(settings):
            state = await books(settings)
            # The token's principal, not the name in the body.
            assert state["kill_switches"] == {"mm-1": OPERATOR}
            await feed.tick(102.5, 70)
            await feed.handled()
            assert await orders_on_topic(settings) == [opening, cancel]
            assert await refusals(settings, "kill_switch") >= 1
            status, _ = await post(settings, "/control/kill", {"book": "mm-1", "engaged": False})
            assert status == 202
            await wait_until(lambda: kill_released(settings, "mm-1"))
            await feed.tick(102.6, 80)
            after = await read_messages(kafka_bootstrap, settings.orders_topic, 3)

    assert (opening["side"], opening["qty"]) == ("sell", 6000)
    assert (cancel["type"], cancel["order_id"], cancel["reason"]) == (
        "cancel",
        opening["order_id"],
        "kill_switch",
    )
    # Released, the book hedges its whole delta again: the cancelled order no longer counts.
    (again,) = after[2:]
    assert (again["side"], again["trigger"]) == ("sell", f"tick:XYZ:{mm.START_NS + 80 * mm.SECOND}")
    assert again["qty"] > 6000


async def test_kill_switch_endpoint_bad_body_is_refused_and_nothing_published(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await control_settings(kafka_bootstrap, topic_prefix, tmp_path)
    async with running_hedger(settings):
        status, answer = await post(settings, "/control/kill", {"book": "mm-1", "engaged": "yes"})
    assert (status, answer["error"]) == (400, "bad_value")
    assert await read_all(kafka_bootstrap, settings.control_topic) == []


async def test_control_answers_only_a_known_token_and_is_off_without_a_tokens_file(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hedger")
    settings = await control_settings(kafka_bootstrap, topic_prefix, tmp_path)
    forged = "canary-" + secrets.token_hex(16)
    release = {"book": "*", "engaged": False, "by": OPERATOR}
    async with running_hedger(settings):
        missing = await post(settings, "/control/kill", release, token=None)
        wrong = await post(settings, "/control/rearm", {"book": "mm-1"}, token=forged)
        refused = {
            reason: await metric(settings, "hedger_control_refusals_total", reason=reason)
            for reason in ("no_credential", "bad_credential")
        }
    off = await hedger_settings(kafka_bootstrap, f"{topic_prefix}off.")
    async with running_hedger(off):
        disabled = await post(off, "/control/kill", release)
    assert (missing[0], missing[1]["error"]) == (401, "no_credential")
    assert (wrong[0], wrong[1]["error"]) == (401, "bad_credential")
    assert (disabled[0], disabled[1]["error"]) == (403, "control_off")
    assert refused == {"no_credential": 1.0, "bad_credential": 1.0}
    assert await read_all(kafka_bootstrap, settings.control_topic) == []
    assert await read_all(kafka_bootstrap, off.control_topic) == []
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "control request refused (bad_credential)" in logged
    assert forged not in logged


async def oscillate(feed: Feed, start_s: float, swings: int) -> None:
    """XYZ between 100 and 101 every second: each move crosses the book's 100-share band."""
    for index in range(swings):
        await feed.tick(101.0 if index % 2 == 0 else 100.0, start_s + index)


async def test_flip_flop_latch_trips_on_oscillation_and_stays_latched_after_restart(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await control_settings(
        kafka_bootstrap, topic_prefix, tmp_path, latch_reversals=3, latch_window_s=60.0
    )
    async with Producer(kafka_bootstrap) as producer:
        feed = Feed(producer, settings)
        async with running_hedger(settings) as service:
            await feed.position()
            await feed.tick(100.0, 0)
            await oscillate(feed, 1, 8)
            await feed.handled()
            latched = await metric(settings, "hedger_book_latched", book="mm-1")
            sent_before_restart = await orders_on_topic(settings)
            assert "mm-1" in service.engine.controls.switches.latched
        async with running_hedger(settings):
            state = await books(settings)
            await oscillate(feed, 20, 6)
            await feed.handled()
            after_restart = await orders_on_topic(settings)
            refused = await refusals(settings, "latched")
        controls = await read_all(kafka_bootstrap, settings.control_topic)

    sides = [o["side"] for o in sent_before_restart]
    # The opening sale of 6,000; up to 101 sells 200 more; then alternating: a buy (the 1st
    # reversal), a sale (the 2nd); the 3rd reversal is refused and latches the book.
    assert sides == ["sell", "sell", "buy", "sell"]
    assert latched == 1.0
    assert [(c["type"], c["book"], c["by"]) for c in controls] == [("latch", "mm-1", "hedger")]
    assert "mm-1" in state["latched_books"]
    assert after_restart == sent_before_restart
    assert refused >= 1


async def test_stale_feed_no_order_for_that_underlying_after_the_limit(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> None:
    settings = await control_settings(
        kafka_bootstrap, topic_prefix, tmp_path, stale_after_ms=10_000
    )
    async with Producer(kafka_bootstrap) as producer, running_hedger(settings):
        feed = Feed(producer, settings)
        await feed.position()
        await feed.tick(100.0, 0)
        await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        # XYZ's feed stops; ABC's goes on, so event time moves past the staleness limit.
        for second in range(1, 26):
            await feed.tick(50.0, second, symbol="ABC")
        await feed.handled()
        # A client trade in XYZ options 25 s after XYZ's last tick: the hedge is refused.
        late = FillReport(
            "C-2", "mm-1", mm.CALL.occ_symbol, Side.BUY, 5_000, 5.25,
            mm.START_NS + 25 * mm.SECOND, multiplier=1,
        )  # fmt: skip
        await feed.fill(late)
        await wait_until(lambda: _refused_at_least(settings, "stale_price", 1))
        stale_orders = await orders_on_topic(settings)
        # The feed comes back: hedged at once.
        await feed.tick(100.0, 26)
        resumed = await read_messages(kafka_bootstrap, settings.orders_topic, 2)

    assert [o["symbol"] for o in stale_orders] == ["XYZ"]
    assert resumed[1]["side"] == "sell"
    assert resumed[1]["trigger"] == f"tick:XYZ:{mm.START_NS + 26 * mm.SECOND}"


async def _refused_at_least(settings: Settings, reason: str, count: float) -> bool:
    return await refusals(settings, reason) >= count


async def test_price_jump_of_25_percent_freezes_until_confirmed(
    kafka_bootstrap: str, topic_prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="hedger")
    settings = await control_settings(
        kafka_bootstrap, topic_prefix, tmp_path, jump_threshold=0.10, confirm_ticks=3
    )
    async with Producer(kafka_bootstrap) as producer, running_hedger(settings):
        feed = Feed(producer, settings)
        await feed.position()
        await feed.tick(100.0, 0)
        await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        await feed.tick(125.0, 1)  # +25%: frozen
        await feed.tick(125.1, 2)
        await feed.tick(125.0, 3)  # two confirmations
        await feed.handled()
        frozen_orders = await orders_on_topic(settings)
        frozen_refusals = await refusals(settings, "price_frozen")
        await feed.tick(125.2, 4)  # the third: confirmed
        confirmed = await read_messages(kafka_bootstrap, settings.orders_topic, 2)

    assert len(frozen_orders) == 1
    # Three refusals counted, one episode logged.
    assert frozen_refusals == 3
    logged = [r for r in caplog.messages if r.startswith("not hedging mm-1 XYZ (price_frozen")]
    assert len(logged) == 1
    assert confirmed[1]["side"] == "sell"
    assert confirmed[1]["trigger"] == f"tick:XYZ:{mm.START_NS + 4 * mm.SECOND}"
    assert confirmed[1]["ref_price"] == pytest.approx(125.2)
