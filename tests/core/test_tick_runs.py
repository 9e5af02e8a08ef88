"""`HedgeEngine.handle_ticks` does exactly what `handle` on each tick in turn does.

Hypothesis builds books (options, some expiring during the run, shares), policies (bands
in shares and currency, which the fast path takes; timed and gamma-width policies and a
Leland adjustment, which it must leave to the one-by-one path), and tick streams with
jumps, stale and duplicate ticks, a second underlying, vol updates and recovery in the
middle. Two engines see the same events, one by `handle` alone and one taking ticks in
runs by `handle_ticks`; their actions, their exposures (every Greek, to the bit), their
price guards and their next decisions must be equal.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from hedger.core.actions import Action
from hedger.core.decisions import BookSetup
from hedger.core.delta_path import book_deltas_along
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    Event,
    FillReport,
    PriceTick,
    RecoveryCompleted,
    Side,
    VolUpdate,
)
from hedger.core.instruments import OptionContract, expiry_instant_ns
from hedger.core.policy import BandPolicy, BandWidth
from hedger.core.risk import DELTA, MarketInputs, OptionColumns

SECOND = 1_000_000_000
SOON = dt.date(2027, 1, 15)  # expires during the ticks
LATER = (dt.date(2027, 3, 19), dt.date(2027, 6, 18), dt.date(2028, 1, 21))
SOON_NS = expiry_instant_ns(SOON, dt.time(16, 0), ZoneInfo("America/New_York"))
START_NS = SOON_NS - 40 * SECOND
BOOKS = ("b1", "b2", "b3")

policies = st.one_of(
    st.builds(
        BandPolicy,
        band_shares=st.sampled_from([0.0, 5.0, 50.0, 400.0, 5_000.0]),
        target_delta=st.sampled_from([0.0, -100.0, 250.0]),
        lot_size=st.sampled_from([1.0, 100.0]),
        # Longer than the ticks' spacing: a book outside its band is refused tick after
        # tick, which the pass takes.
        min_interval_ns=st.sampled_from([SECOND, 5 * SECOND, 40 * SECOND]),
    ),
    st.builds(
        BandPolicy,
        band_shares=st.just(0.0),
        width=st.just(BandWidth.CURRENCY),
        band_currency=st.sampled_from([500.0, 20_000.0]),
    ),
    st.builds(BandPolicy, band_shares=st.just(100.0), rebalance_every_ns=st.just(10 * SECOND)),
    st.builds(
        BandPolicy,
        band_shares=st.just(0.0),
        width=st.just(BandWidth.GAMMA),
        band_gamma_moves=st.just(2.0),
    ),
    st.builds(
        BandPolicy,
        band_shares=st.just(200.0),
        leland_cost=st.just(0.002),
        leland_interval_ns=st.just(SECOND),
    ),
)


@st.composite
def option_fills(draw: st.DrawFn) -> list[FillReport]:
    fills = []
    for number in range(draw(st.integers(0, 6))):
        expiry = draw(st.sampled_from((SOON, *LATER)))
        strike = float(draw(st.integers(80, 120)))
        contract = OptionContract("XYZ", expiry, draw(st.booleans()), strike)
        fills.append(
            FillReport(
                fill_id=f"C-{number}",
                book=draw(st.sampled_from(BOOKS)),
                instrument=contract.occ_symbol,
                side=draw(st.sampled_from(Side)),
                qty=float(draw(st.integers(1, 50))),
                price=2.0,
                ts_ns=START_NS - SECOND,
            )
        )
    if draw(st.booleans()):
        fills.append(
            FillReport("S-1", draw(st.sampled_from(BOOKS)), "XYZ", Side.BUY, 700.0, 100.0, START_NS)
        )
    return fills


@st.composite
def tick_streams(draw: st.DrawFn) -> list[Event]:
    """Ticks one second apart around 100, with jumps, repeats and interruptions, and gaps
    of hours to days after which a move is held to a widened threshold."""
    events: list[Event] = []
    mark, ts_ns = 100.0, START_NS
    for _ in range(draw(st.integers(1, 80))):
        kind = draw(
            st.sampled_from(["tick"] * 12 + ["jump", "gap", "repeat", "other", "vol", "old"])
        )
        ts_ns += SECOND
        if kind == "gap":
            ts_ns += draw(st.sampled_from([1, 6, 24, 72])) * 3600 * SECOND
            mark *= draw(st.sampled_from([0.8, 1.15, 1.3]))
        elif kind == "jump":
            mark *= draw(st.sampled_from([0.8, 1.15]))
        elif kind == "repeat":
            ts_ns -= SECOND
        elif kind == "old":
            ts_ns -= 3 * SECOND
        elif kind == "other":
            events.append(PriceTick("ABC", ts_ns, None, None, 50.0, 50.0))
            continue
        elif kind == "vol":
            events.append(VolUpdate("XYZ", ts_ns, draw(st.sampled_from([0.15, 0.3]))))
            continue
        mark += draw(st.floats(-0.6, 0.6))
        events.append(PriceTick("XYZ", ts_ns, mark - 0.01, mark + 0.01, None, mark))
    return events


def one_by_one(engine: HedgeEngine, events: list[Event]) -> list[Action]:
    return [action for event in events for action in engine.handle(event)]


def in_runs(engine: HedgeEngine, events: list[Event]) -> list[Action]:
    actions: list[Action] = []
    index = 0
    while index < len(events):
        if not isinstance(events[index], PriceTick):
            actions += engine.handle(events[index])
            index += 1
            continue
        stop = index
        while stop < len(events) and isinstance(events[stop], PriceTick):
            stop += 1
        index, acted = engine.handle_ticks(events, index, stop)  # type: ignore[arg-type]
        actions += acted
    return actions


@settings(max_examples=150, deadline=None)
@given(
    policy=policies,
    book_policy=st.none() | policies,
    fills=option_fills(),
    ticks=tick_streams(),
    recovered_at=st.integers(0, 30),
)
def test_handle_ticks_any_stream_same_actions_and_state_as_handle(
    policy, book_policy, fills, ticks, recovered_at
):
    books = () if book_policy is None else (("b2", BookSetup(book_policy)),)
    config = EngineConfig(
        policy=policy, rate=0.03, books=books, underlyings=frozenset({"XYZ", "ABC"})
    )
    recovery = RecoveryCompleted(START_NS + recovered_at * SECOND)
    events: list[Event] = [*fills, *ticks]
    events.insert(len(fills) + min(recovered_at, len(ticks)), recovery)
    reference, ours = HedgeEngine(config), HedgeEngine(config)
    assert one_by_one(reference, events) == in_runs(ours, events)
    # repr: every float to the bit, and a NaN mark (no tick yet) equal to itself.
    assert repr(list(reference.exposures())) == repr(list(ours.exposures()))
    assert reference.pnl.latest_ns == ours.pnl.latest_ns  # where the P&L reads `now`
    assert reference.controls.guard.last_good_mark("XYZ") == ours.controls.guard.last_good_mark(
        "XYZ"
    )
    # The next decision sees the same guard, throttle and refusal episodes.
    probe_ns = max(event.ts_ns for event in events) + SECOND
    probe = PriceTick("XYZ", probe_ns, None, None, 104.0, 104.0)
    assert reference.handle(probe) == ours.handle(probe)


def test_handle_ticks_steady_run_takes_every_tick_in_one_call():
    """A band nobody crosses: one call handles the whole run in one pass, its last tick too,
    and returns no actions."""
    config = EngineConfig(policy=BandPolicy(band_shares=1e9), rate=0.03)
    engine = HedgeEngine(config)
    contract = OptionContract("XYZ", LATER[0], True, 100.0)
    engine.handle(FillReport("C-1", "b1", contract.occ_symbol, Side.BUY, 10.0, 2.0, START_NS))
    engine.handle(RecoveryCompleted(START_NS))
    marks = [100.0 + step / 10 for step in range(1, 30)]
    ticks = [
        PriceTick("XYZ", START_NS + step * SECOND, None, None, mark, mark)
        for step, mark in enumerate(marks, start=1)
    ]
    engine.handle(ticks[0])  # the fast path starts from a last tick
    one_at_a_time: list[object] = []
    engine.handle = one_at_a_time.append  # type: ignore[method-assign,assignment]
    assert engine.handle_ticks(ticks, 1) == (len(ticks), [])
    assert engine.market.ticks["XYZ"] == ticks[-1]
    assert one_at_a_time == []  # its last tick too was taken in the pass


def test_a_run_given_another_underlyings_tick_takes_it_as_handle_does() -> None:
    """`handle_ticks` handed ticks of two underlyings at nearby prices (the driver never
    does): the pass stops at the other underlying's tick, which goes through `handle` as
    its own, so the markets and Greeks are those of one tick at a time."""
    config = EngineConfig(
        policy=BandPolicy(band_shares=1e9), rate=0.03, underlyings=frozenset({"XYZ", "ABC"})
    )
    fills = [
        FillReport(
            f"C-{symbol}",
            "b1",
            OptionContract(symbol, LATER[0], True, 100.0).occ_symbol,
            Side.BUY,
            10.0,
            2.0,
            START_NS,
        )
        for symbol in ("XYZ", "ABC")
    ]
    ticks = [
        PriceTick(symbol, START_NS + step * SECOND, None, None, mark, mark)
        for step, (symbol, mark) in enumerate(
            [
                ("XYZ", 100.0),
                ("ABC", 100.2),
                *[("XYZ", 100.0 + n / 10) for n in range(1, 9)],
                ("ABC", 100.3),
                ("XYZ", 101.0),
                ("XYZ", 101.1),
            ],
            start=1,
        )
    ]
    events: list[Event] = [*fills, RecoveryCompleted(START_NS), *ticks]
    reference, ours = HedgeEngine(config), HedgeEngine(config)
    assert one_by_one(reference, events) == in_runs(ours, events)
    assert reference.market.ticks == ours.market.ticks
    assert repr(list(reference.exposures())) == repr(list(ours.exposures()))


def test_a_run_of_daily_closes_leaves_the_guard_as_ticks_taken_one_by_one() -> None:
    """Each close moves under the day's widened jump threshold (24%), together more than
    three days' (42%): the run is steady, and the guard must not judge its second-last
    tick against the mark before the run."""
    # No P&L valuation falls inside the run: each would end it at its tick.
    year = 365 * 86_400 * SECOND
    config = EngineConfig(policy=BandPolicy(band_shares=1e9), rate=0.03, pnl_interval_ns=year)
    marks = [100.0, 115.0, 132.25, 152.1, 174.9, 175.1]
    day = 86_400 * SECOND
    ticks = [
        PriceTick("XYZ", START_NS + n * day, None, None, mark, mark) for n, mark in enumerate(marks)
    ]
    contract = OptionContract("XYZ", LATER[0], True, 100.0)
    trade = FillReport("C-1", "b1", contract.occ_symbol, Side.BUY, 10.0, 2.0, START_NS)
    reference, ours = HedgeEngine(config), HedgeEngine(config)
    for engine in (reference, ours):
        engine.handle(trade)
        engine.handle(RecoveryCompleted(START_NS))
    events: list[Event] = [*ticks]
    one_by_one(reference, events)
    ours.handle(ticks[0])  # the fast path starts from a last tick
    assert ours.handle_ticks(ticks, 1) == (len(ticks), [])
    assert reference.controls.guard.last_good_mark("XYZ") == 174.9
    assert ours.controls.guard.last_good_mark("XYZ") == 174.9
    assert reference.controls.guard.blocked() == ours.controls.guard.blocked() == {}


@settings(max_examples=60, deadline=None)
@given(
    strikes=st.lists(st.floats(1.0, 400.0), min_size=1, max_size=30),
    vol=st.sampled_from([1e-14, 0.05, 0.3, 2.0]),
    spots=st.lists(st.floats(1.0, 400.0), min_size=1, max_size=8),
)
def test_book_deltas_along_each_tick_equals_revaluation_delta_to_the_bit(strikes, vol, spots):
    columns = OptionColumns()
    for row, strike in enumerate(strikes):
        expiry_ns = START_NS + (row % 4) * 90 * 86_400 * SECOND + SECOND
        columns.add(f"b{row % 3}", f"K{row}", strike, expiry_ns, row % 2 == 0, (row - 10) * 37.0)
    times = START_NS + np.arange(len(spots), dtype=np.int64) * SECOND
    deltas = book_deltas_along(columns, np.array(spots), times, vol, 0.03, 0.01)
    for tick, (spot, ts_ns) in enumerate(zip(spots, times.tolist(), strict=True)):
        greeks = columns.revalue(MarketInputs(spot, vol, 0.03, 0.01, ts_ns))
        assert deltas[tick].tolist() == greeks.values[:, DELTA].tolist()


def test_refusals_within_the_interval_are_taken_in_one_pass_with_their_episodes():
    """A book sent an order, then pushed out of its band and back twice within its minimum
    interval: one `handle_ticks` call takes every tick, refusing the ticks outside as one
    by one, and a new episode starts each time it leaves the band again."""
    config = EngineConfig(
        policy=BandPolicy(band_shares=50.0, min_interval_ns=40 * SECOND), rate=0.03
    )
    contract = OptionContract("XYZ", LATER[0], True, 100.0)
    trade = FillReport("C-1", "b1", contract.occ_symbol, Side.BUY, 10.0, 2.0, START_NS)
    marks = [100.0, 100.1, 102.5, 102.6, 100.0, 100.1, 102.5, 102.7, 100.2]
    ticks = [
        PriceTick("XYZ", START_NS + step * SECOND, None, None, mark, mark)
        for step, mark in enumerate(marks, start=1)
    ]
    reference, ours = HedgeEngine(config), HedgeEngine(config)
    for engine in (reference, ours):
        engine.handle(trade)
        engine.handle(RecoveryCompleted(START_NS))
    expected = [one_by_one(reference, [tick]) for tick in ticks]
    assert [type(actions[0]).__name__ if actions else None for actions in expected[:2]] == [
        "SubmitHedgeOrder",
        None,
    ]
    refusals = [action for actions in expected[2:] for action in actions]
    assert [(a.reason, a.new_episode) for a in refusals] == [  # type: ignore[attr-defined]
        ("min_interval", True),
        ("min_interval", False),
        ("min_interval", True),
        ("min_interval", False),
    ]
    one_by_one(ours, ticks[:2])
    assert ours.handle_ticks(ticks, 2) == (len(ticks), refusals)
    assert repr(list(reference.exposures())) == repr(list(ours.exposures()))
