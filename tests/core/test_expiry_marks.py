"""An option fill read after the tick that passed its expiry settles as it would have read in
time: at the mark of the last tick at or before the expiry instant (`hedger.core.expiry_marks`),
into the same shares, cash and settled value, whatever the order fills and ticks arrive in."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from zoneinfo import ZoneInfo

import pytest

from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import Event, FillReport, PriceTick, Side, VolUpdate
from hedger.core.expiry_marks import ExpiryCalendar
from hedger.core.instruments import OptionContract, expiry_instant_ns
from hedger.core.pnl_attribution import ATTRIBUTION_TERMS
from hedger.core.policy import BandPolicy
from hedger.engine_snapshot import dump_engine, load_engine
from tests.scenarios import market_maker as mm

SECOND = mm.SECOND
EXPIRY_NS = mm.EXPIRY_NS
STRIKE = 100.0
UNITS = 1000.0  # 10 contracts × 100
PREMIUM = 2.0
NEW_YORK = ZoneInfo("America/New_York")
# Rate 0: no financing, so the P&L is cash + shares × mark, computed by hand below.
CONFIG = EngineConfig(policy=BandPolicy(band_shares=math.inf))


def tick(seconds_from_expiry: int, mark: float) -> PriceTick:
    ts_ns = EXPIRY_NS + seconds_from_expiry * SECOND
    return PriceTick("XYZ", ts_ns, mark - 0.01, mark + 0.01, None, mark)


def option_fill(is_call: bool, fill_id: str = "C-1", book: str = "mm-1") -> FillReport:
    contract = OptionContract("XYZ", mm.EXPIRY, is_call, STRIKE)
    ts_ns = EXPIRY_NS - 3600 * SECOND
    return FillReport(
        fill_id, book, contract.occ_symbol, Side.BUY, 10, PREMIUM, ts_ns, multiplier=100
    )


def run(events: list[Event], config: EngineConfig = CONFIG) -> HedgeEngine:
    engine = HedgeEngine(config)
    for event in events:
        engine.handle(event)
    return engine


Held = tuple[dict[tuple[str, str], float], float, float]


def holding(engine: HedgeEngine) -> Held:
    """(positions, settled value, P&L) of book mm-1 on XYZ."""
    (exposure,) = engine.exposures()
    (pnl,) = engine.pnl.now().values()
    return engine.positions(), exposure.settled_value, pnl.pnl


def expected(is_call: bool, cash_settled: bool, settlement: float, mark: float) -> Held:
    """The same, by hand: 1,000 units bought at 2, settled at `settlement`, marked at `mark`."""
    sign = 1.0 if is_call else -1.0
    intrinsic = max(sign * (settlement - STRIKE), 0.0)
    delivered = sign * UNITS if intrinsic > 0.0 and not cash_settled else 0.0
    cash = -PREMIUM * UNITS + (intrinsic * UNITS if cash_settled else -delivered * STRIKE)
    positions = {("mm-1", "XYZ"): delivered} if delivered else {}
    return positions, intrinsic * UNITS, cash + delivered * mark


def assert_holds(engine: HedgeEngine, wanted: Held) -> None:
    positions, settled_value, pnl = holding(engine)
    assert positions == wanted[0]
    assert settled_value == pytest.approx(wanted[1], abs=1e-9)
    assert pnl == pytest.approx(wanted[2], abs=1e-6)


@pytest.mark.parametrize("cash_settled", [False, True])
@pytest.mark.parametrize("is_call", [True, False])
# (the last mark before the expiry, the next one): each pair puts one of call and put in
# the money at the first and out at the second, so settling at the wrong one shows.
@pytest.mark.parametrize(("before", "after"), [(101.0, 99.0), (99.0, 101.0)])
@pytest.mark.parametrize("read", ["in_time", "after_the_crossing_tick", "at_the_end"])
def test_expiry_marks_option_fill_read_late_settles_at_the_mark_before_expiry(
    is_call: bool, cash_settled: bool, before: float, after: float, read: str
) -> None:
    config = dataclasses.replace(
        CONFIG, cash_settled_underlyings=frozenset({"XYZ"} if cash_settled else ())
    )
    ticks = [tick(-7200, 100.0), tick(-60, before), tick(60, after), tick(120, 100.5)]
    fill = option_fill(is_call)
    at = {"in_time": 2, "after_the_crossing_tick": 3, "at_the_end": 4}[read]

    engine = run([*ticks[:at], fill, *ticks[at:]], config)

    assert_holds(engine, expected(is_call, cash_settled, before, 100.5))


@pytest.mark.parametrize("cash_settled", [False, True])
@pytest.mark.parametrize("is_call", [True, False])
@pytest.mark.parametrize(("before", "after"), [(101.0, 99.0), (99.0, 101.0)])
def test_expiry_marks_attribution_is_the_same_whether_the_fill_was_read_in_time_or_late(
    is_call: bool, cash_settled: bool, before: float, after: float
) -> None:
    """Read in time, the option is first valued at the last mark before its expiry, a minute
    left: at its intrinsic value, delta ±1 or 0, so it explains no move; read late, it
    settles at once. Either way the move after the expiry is the delivered shares' alone
    (the settled option's delta does not count it again), and the rest of the P&L is the
    option's intrinsic value over its premium."""
    config = dataclasses.replace(
        CONFIG, cash_settled_underlyings=frozenset({"XYZ"} if cash_settled else ())
    )
    ticks = [tick(-7200, 100.0), tick(-60, before), tick(60, after), tick(120, 100.5)]
    read = {
        at: run([*ticks[:at], option_fill(is_call), *ticks[at:]], config).pnl.attribution()
        for at in (2, 3, 4)  # in time, after the crossing tick, at the end
    }

    assert read[3] == pytest.approx(read[2], abs=1e-9)
    assert read[4] == pytest.approx(read[2], abs=1e-9)
    positions, settled_value, _ = expected(is_call, cash_settled, before, 100.5)
    delivered = positions.get(("mm-1", "XYZ"), 0.0)
    wanted = dict.fromkeys(ATTRIBUTION_TERMS, 0.0)
    wanted["delta"] = delivered * (100.5 - before)
    wanted["residual"] = settled_value - PREMIUM * UNITS
    assert read[2] == pytest.approx(wanted, abs=1e-6)


@pytest.mark.parametrize("read", [2, 3, 4])
def test_expiry_marks_tick_stamped_at_the_expiry_instant_is_the_settlement_mark(read: int) -> None:
    ticks = [tick(-60, 99.0), tick(0, 101.0), tick(60, 98.0), tick(120, 97.0)]

    engine = run([*ticks[:read], option_fill(True), *ticks[read:]])

    assert_holds(engine, expected(True, False, 101.0, 97.0))


@pytest.mark.parametrize("read", [0, 1, 2])
def test_expiry_marks_market_first_seen_after_expiry_settles_at_its_first_tick(
    read: int,
) -> None:
    ticks = [tick(60, 103.0), tick(120, 97.0)]

    engine = run([*ticks[:read], option_fill(True), *ticks[read:]])

    assert_holds(engine, expected(True, False, 103.0, 97.0))


def test_expiry_marks_events_stamped_after_expiry_wait_for_a_tick_to_settle() -> None:
    """A share fill and a vol stamped after the expiry can be read before a tick stamped
    before it: they leave the option held (at no time left) and the late tick sets the
    settlement mark, as when everything arrives in event-time order."""
    call = option_fill(True)
    shares = FillReport("S-1", "mm-1", "XYZ", Side.BUY, 100, 99.0, EXPIRY_NS + 30 * SECOND)
    vol = VolUpdate("XYZ", EXPIRY_NS + 40 * SECOND, 0.3)
    late_tick, crossing = tick(-10, 101.0), tick(60, 98.0)
    early = run([tick(-60, 99.0), call, shares, vol])
    assert early.positions()[("mm-1", call.instrument)] == UNITS
    (exposure,) = early.exposures()
    # Priced at no time left, out of the money at 99: worth nothing, the shares' delta alone.
    assert (exposure.delta, exposure.option_value, exposure.gamma) == (100.0, 0.0, 0.0)

    reordered = [late_tick, crossing]
    in_order = run([tick(-60, 99.0), call, late_tick, shares, vol, crossing])
    out_of_order = run([tick(-60, 99.0), call, shares, vol, *reordered])

    _, settled_value, pnl = expected(True, False, 101.0, 98.0)
    wanted = ({("mm-1", "XYZ"): UNITS + 100.0}, settled_value, pnl + 100.0 * (98.0 - 99.0))
    assert_holds(in_order, wanted)
    assert_holds(out_of_order, wanted)


def test_expiry_marks_survive_a_snapshot_and_a_rebuild_that_keeps_the_market() -> None:
    """A rebuild after a rebalance keeps the market and re-reads the fills after it passed
    the expiry; a snapshot carries the marks too."""
    live = run([tick(-60, 101.0), tick(60, 99.0)])
    restored = load_engine(dump_engine(live), CONFIG)
    rebuilt = HedgeEngine(CONFIG, market=live.market)

    for engine in (live, restored, rebuilt):
        engine.handle(option_fill(True))

        assert_holds(engine, expected(True, False, 101.0, 99.0))


def test_expiry_marks_ticks_taken_in_one_pass_keep_the_mark_before_each_instant() -> None:
    """Daily closes an hour before the expiry time, taken as one steady run: an option
    expiring on the third day settles at that day's close, read after the whole run."""
    day = 86_400 * SECOND
    closes = [100.0, 100.5, 101.0, 100.7, 100.2, 99.9]
    first_ns = EXPIRY_NS - 2 * day - 3600 * SECOND
    ticks = [
        PriceTick("XYZ", first_ns + n * day, None, None, close, close)
        for n, close in enumerate(closes)
    ]
    engine = HedgeEngine(dataclasses.replace(CONFIG, pnl_interval_ns=365 * day))
    engine.handle(ticks[0])

    assert engine.handle_ticks(ticks, 1) == (len(ticks), [])  # one pass, nothing decided
    engine.handle(option_fill(True))

    assert_holds(engine, expected(True, False, 101.0, 99.9))


@pytest.mark.parametrize(
    ("local", "expiry_day"),
    [
        (dt.datetime(2026, 11, 20, 9, 30), dt.date(2026, 11, 20)),
        (dt.datetime(2026, 11, 20, 16, 0), dt.date(2026, 11, 20)),  # at the instant itself
        (dt.datetime(2026, 11, 20, 16, 0, 1), dt.date(2026, 11, 21)),
        (dt.datetime(2026, 11, 20, 23, 59, 59), dt.date(2026, 11, 21)),
        (dt.datetime(2026, 3, 7, 17, 0), dt.date(2026, 3, 8)),  # over the change to EDT
        (dt.datetime(2026, 10, 31, 17, 0), dt.date(2026, 11, 1)),  # and back to EST
    ],
)
def test_expiry_calendar_first_instant_from_is_the_next_expiry_time_in_its_zone(
    local: dt.datetime, expiry_day: dt.date
) -> None:
    calendar = ExpiryCalendar(dt.time(16, 0), NEW_YORK)
    ts_ns = int(local.replace(tzinfo=NEW_YORK).timestamp()) * SECOND

    found = calendar.first_instant_from(ts_ns)

    assert found == expiry_instant_ns(expiry_day, dt.time(16, 0), NEW_YORK)
    local_expiry = dt.datetime.fromtimestamp(found // SECOND, NEW_YORK)
    assert (local_expiry.date(), local_expiry.time()) == (expiry_day, dt.time(16, 0))
