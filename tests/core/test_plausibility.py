"""Plausibility limits: absurd but well-formed input is refused with its reason, and what
sits at a limit passes. No broker."""

from __future__ import annotations

import pytest

from hedger.config import Settings
from hedger.core.actions import InputRejected
from hedger.core.engine import HedgeEngine
from hedger.core.events import (
    FillReport,
    OptionQuote,
    PriceTick,
    RecoveryCompleted,
    Side,
    VolUpdate,
)
from hedger.core.plausibility import PlausibilityLimits, implausible
from tests.scenarios import market_maker as mm

LIMITS = PlausibilityLimits(max_price=1000.0, max_vol=2.0, max_fill_qty=500.0)
TS = 1_795_185_000_000_000_000


def fill(qty: float = 10.0, price: float = 5.0, book: str = "mm-1") -> FillReport:
    return FillReport("F-1", book, "XYZ", Side.BUY, qty, price, TS)


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        (PriceTick("XYZ", TS, 99.0, 1e300, None, 99.0), "implausible_price"),
        (PriceTick("XYZ", TS, None, None, 1000.5, 1000.5), "implausible_price"),
        (OptionQuote("XYZ   261218C00100000", TS, 1.0, 2e9), "implausible_price"),
        (VolUpdate("XYZ", TS, 1e300), "implausible_vol"),
        (fill(qty=2.0**70), "implausible_quantity"),
        (fill(price=1e300), "implausible_price"),
    ],
)
def test_absurd_input_is_refused_with_its_reason(event, reason):
    refusal = implausible(event, LIMITS)
    assert refusal is not None
    assert refusal.kind == reason


@pytest.mark.parametrize(
    "event",
    [
        PriceTick("XYZ", TS, 999.0, 1000.0, None, 999.5),
        OptionQuote("XYZ   261218C00100000", TS, 0.0, 1000.0),
        VolUpdate("XYZ", TS, 2.0),
        fill(qty=500.0, price=1000.0),
    ],
)
def test_input_at_the_limits_passes(event):
    assert implausible(event, LIMITS) is None


def test_a_book_outside_the_allow_list_is_refused_and_any_book_passes_without_one():
    listed = PlausibilityLimits(books=frozenset({"mm-1"}))
    refusal = implausible(fill(book="mm-l"), listed)
    assert refusal is not None
    assert (refusal.kind, refusal.detail) == ("unknown_book", "'mm-l' is not a configured book")
    assert implausible(fill(book="mm-1"), listed) is None
    assert implausible(fill(book="anything"), PlausibilityLimits()) is None


@pytest.mark.parametrize("field", ["max_price", "max_vol", "max_fill_qty"])
def test_limits_must_be_positive(field):
    with pytest.raises(ValueError, match="must be positive"):
        PlausibilityLimits(**{field: 0.0})


def test_the_engine_refuses_an_implausible_tick_inside_a_steady_run():
    """`handle_ticks` takes steady ticks in one pass: an absurd one must not ride along."""
    engine = HedgeEngine(Settings(rate=mm.RATE, max_price=150.0).engine_config())
    engine.handle(RecoveryCompleted(0))
    engine.handle(mm.vol())
    engine.handle(mm.tick(100.0, 0))
    ticks = [mm.tick(100.0 + 0.01 * i, 1 + i) for i in range(20)]
    # Its mark is the steady mid; its last trade, though, is absurd.
    ticks[12] = PriceTick("XYZ", ticks[12].ts_ns, 100.11, 100.13, 151.0, 100.12)
    refused, position = [], 0
    while position < len(ticks):
        position, actions = engine.handle_ticks(ticks, position)
        refused += [(position - 1, a.kind) for a in actions if isinstance(a, InputRejected)]
    assert refused == [(12, "implausible_price")]
    assert engine.market.ticks["XYZ"].mark == ticks[-1].mark
