"""OptionColumns' per-book Greeks against a slow reference: QuantLib, one position at a time.

Time to expiry reaches the columns as integer nanoseconds. Expiries here lie a whole number
of days after the valuation instant (both at midnight UTC), so the ACT/365 year fraction
the columns compute is exactly the one QuantLib's Actual365Fixed gives between the dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from hedger.core.instruments import year_fraction
from hedger.core.risk import BookGreeks, MarketInputs, OptionColumns

ql = pytest.importorskip("QuantLib")

NANOS_PER_DAY = 86_400 * 1_000_000_000
VALUATION_DATE = dt.date(2025, 1, 15)
VALUATION_NS = (
    int(dt.datetime.combine(VALUATION_DATE, dt.time(), tzinfo=dt.UTC).timestamp()) * 1_000_000_000
)
NEAR_DAYS, FAR_DAYS = 30, 200
RELATIVE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class Position:
    book: str
    strike: float
    expiry_days: int
    is_call: bool
    units: float

    @property
    def contract_key(self) -> str:
        return f"{'C' if self.is_call else 'P'}{self.strike:g}@{self.expiry_days}d"

    @property
    def expiry_ns(self) -> int:
        return VALUATION_NS + self.expiry_days * NANOS_PER_DAY


# Several books; calls and puts; two expiries; a second add to an existing (book, contract)
# row; a row that nets to zero inside mm-1; and book mm-3 whose positions all net to zero.
POSITIONS = [
    Position("mm-1", 100.0, NEAR_DAYS, True, 1_000.0),
    Position("mm-1", 95.0, FAR_DAYS, False, -500.0),
    Position("mm-2", 110.0, FAR_DAYS, True, -2_000.0),
    Position("mm-1", 100.0, NEAR_DAYS, True, 300.0),
    Position("mm-3", 90.0, NEAR_DAYS, False, 700.0),
    Position("mm-2", 100.0, NEAR_DAYS, False, 1_500.0),
    Position("mm-1", 120.0, FAR_DAYS, True, 400.0),
    Position("mm-3", 90.0, NEAR_DAYS, False, -700.0),
    Position("mm-1", 120.0, FAR_DAYS, True, -400.0),
    Position("mm-2", 110.0, FAR_DAYS, True, 250.0),
]
MARKETS = [
    MarketInputs(spot=100.0, vol=0.30, rate=0.03, dividend_yield=0.01, ts_ns=VALUATION_NS),
    MarketInputs(spot=82.5, vol=0.55, rate=0.0, dividend_yield=0.0, ts_ns=VALUATION_NS),
    MarketInputs(spot=131.0, vol=0.12, rate=0.05, dividend_yield=0.02, ts_ns=VALUATION_NS),
]


@dataclass(frozen=True)
class ReferenceGreeks:
    """Per-book sums of Greek × units, and of |Greek × units| as the scale for tolerances."""

    net: dict[str, np.ndarray]  # "delta" etc. -> one value per book
    gross: dict[str, np.ndarray]


@pytest.fixture
def evaluation_date() -> Iterator[Any]:
    settings = ql.Settings.instance()
    previous = settings.evaluationDate
    today = ql.Date(VALUATION_DATE.day, VALUATION_DATE.month, VALUATION_DATE.year)
    settings.evaluationDate = today
    yield today
    settings.evaluationDate = previous


def quantlib_greeks(today: Any, position: Position, market: MarketInputs) -> dict[str, float]:
    """delta, gamma, vega per vol point and theta per day of ONE option, from QuantLib."""
    day_count = ql.Actual365Fixed()
    maturity = today + position.expiry_days
    # The same T the columns use, to the last bit.
    assert day_count.yearFraction(today, maturity) == year_fraction(
        market.ts_ns, position.expiry_ns
    )
    process = ql.BlackScholesMertonProcess(
        ql.QuoteHandle(ql.SimpleQuote(market.spot)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, market.dividend_yield, day_count)),
        ql.YieldTermStructureHandle(ql.FlatForward(today, market.rate, day_count)),
        ql.BlackVolTermStructureHandle(
            ql.BlackConstantVol(today, ql.NullCalendar(), market.vol, day_count)
        ),
    )
    option_type = ql.Option.Call if position.is_call else ql.Option.Put
    option = ql.VanillaOption(
        ql.PlainVanillaPayoff(option_type, position.strike), ql.EuropeanExercise(maturity)
    )
    option.setPricingEngine(ql.AnalyticEuropeanEngine(process))
    return {
        "delta": option.delta(),
        "gamma": option.gamma(),
        "vega": option.vega() / 100.0,  # QuantLib: per 1.0 of vol; ours: per vol point
        "theta": option.thetaPerDay(),
    }


def reference(
    today: Any, positions: list[Position], market: MarketInputs, books: list[str]
) -> ReferenceGreeks:
    net = {name: np.zeros(len(books)) for name in ("delta", "gamma", "vega", "theta")}
    gross = {name: np.zeros(len(books)) for name in net}
    for position in positions:
        index = books.index(position.book)
        for name, value in quantlib_greeks(today, position, market).items():
            net[name][index] += value * position.units
            gross[name][index] += abs(value * position.units)
    return ReferenceGreeks(net, gross)


def columns_of(positions: list[Position]) -> OptionColumns:
    columns = OptionColumns()
    for position in positions:
        columns.add(
            position.book,
            position.contract_key,
            position.strike,
            position.expiry_ns,
            position.is_call,
            position.units,
        )
    return columns


def assert_matches(ours: BookGreeks, expected: ReferenceGreeks) -> None:
    for name, values in expected.net.items():
        # Relative to each book's gross exposure (>= |net|): a book that nets to zero is
        # compared against zero at the scale of what it holds.
        error = np.abs(getattr(ours, name) - values)
        allowed = RELATIVE_TOLERANCE * expected.gross[name]
        assert np.all(error <= allowed), f"{name}: error {error} above {allowed}"


def first_appearance(positions: list[Position]) -> list[str]:
    return list(dict.fromkeys(position.book for position in positions))


@pytest.mark.parametrize("market", MARKETS, ids=["base", "low-spot-high-vol", "high-spot"])
def test_option_columns_revalue_matches_quantlib_summed_per_position(evaluation_date, market):
    columns = columns_of(POSITIONS)

    ours = columns.revalue(market)

    assert columns.books == first_appearance(POSITIONS)
    assert_matches(ours, reference(evaluation_date, POSITIONS, market, columns.books))


def test_option_columns_revalue_book_that_nets_to_zero_has_zero_greeks(evaluation_date):
    columns = columns_of(POSITIONS)
    ours = columns.revalue(MARKETS[0])
    flat = columns.books.index("mm-3")
    expected = reference(evaluation_date, POSITIONS, MARKETS[0], columns.books)
    for name in ("delta", "gamma", "vega", "theta"):
        assert expected.gross[name][flat] > 0.0  # it did hold something
        assert getattr(ours, name)[flat] == 0.0  # units net exactly: 700 - 700


def test_option_columns_same_book_and_contract_share_one_row(evaluation_date):
    twice = [Position("mm-1", 100.0, NEAR_DAYS, True, 1_000.0)] * 2
    once = [Position("mm-1", 100.0, NEAR_DAYS, True, 2_000.0)]

    ours = columns_of(twice).revalue(MARKETS[0])

    assert_matches(ours, reference(evaluation_date, once, MARKETS[0], ["mm-1"]))
    np.testing.assert_array_equal(ours.delta, columns_of(once).revalue(MARKETS[0]).delta)


def test_option_columns_add_after_revalue_is_seen_by_the_next_revalue(evaluation_date):
    columns = columns_of(POSITIONS[:4])
    columns.revalue(MARKETS[0])
    for position in POSITIONS[4:]:
        columns.add(
            position.book,
            position.contract_key,
            position.strike,
            position.expiry_ns,
            position.is_call,
            position.units,
        )

    ours = columns.revalue(MARKETS[0])

    assert_matches(ours, reference(evaluation_date, POSITIONS, MARKETS[0], columns.books))


def test_option_columns_revalue_has_one_entry_per_book_in_first_seen_order():
    columns = columns_of(POSITIONS)
    ours = columns.revalue(MARKETS[0])
    assert columns.books == ["mm-1", "mm-2", "mm-3"]
    assert columns.book_index("mm-2") == 1
    for name in ("delta", "gamma", "vega", "theta"):
        assert getattr(ours, name).shape == (3,)
        assert getattr(ours, name).dtype == np.float64


def test_option_columns_book_known_before_any_position_gets_zero_greeks():
    columns = OptionColumns()
    columns.book_index("empty")
    columns.add("mm-1", "C100", 100.0, VALUATION_NS + NEAR_DAYS * NANOS_PER_DAY, True, 10.0)
    ours = columns.revalue(MARKETS[0])
    assert columns.books == ["empty", "mm-1"]
    assert ours.delta[0] == 0.0
    assert ours.delta[1] > 0.0


def test_option_columns_row_vols_price_each_row_at_its_own_vol(evaluation_date):
    columns = columns_of(POSITIONS)
    row_vols = np.linspace(0.15, 0.45, len(columns))
    market = MARKETS[0]

    ours = columns.revalue(market, row_vols)

    net = np.zeros(len(columns.books))
    gross = np.zeros(len(columns.books))
    rows = list(dict.fromkeys((p.book, p.contract_key) for p in POSITIONS))
    for position in POSITIONS:
        row = rows.index((position.book, position.contract_key))
        at_vol = MarketInputs(
            market.spot, row_vols[row], market.rate, market.dividend_yield, market.ts_ns
        )
        delta = quantlib_greeks(evaluation_date, position, at_vol)["delta"] * position.units
        net[columns.books.index(position.book)] += delta
        gross[columns.books.index(position.book)] += abs(delta)
    assert np.all(np.abs(ours.delta - net) <= RELATIVE_TOLERANCE * gross)


def test_option_columns_row_vols_of_wrong_length_raise():
    columns = columns_of(POSITIONS)

    with pytest.raises(ValueError, match="row vols"):
        columns.revalue(MARKETS[0], np.array([0.2, 0.3]))


def test_option_columns_settle_expired_removes_rows_and_reports_intrinsic_value():
    columns = columns_of(POSITIONS)
    near_expiry = VALUATION_NS + NEAR_DAYS * NANOS_PER_DAY
    assert columns.expiring_by(near_expiry)

    settlements = columns.settle_expired(near_expiry, 95.0)

    # Near rows: mm-1 C100 (1,300), mm-3 P90 (700 − 700 = 0), mm-2 P100 (1,500).
    by_key = {(s.book, s.contract_key): s for s in settlements}
    call = by_key[("mm-1", "C100@30d")]
    put = by_key[("mm-2", "P100@30d")]
    assert (call.units, call.intrinsic_value, call.delivered_shares) == (1_300.0, 0.0, 0.0)
    assert (put.units, put.intrinsic_value, put.delivered_shares) == (1_500.0, 7_500.0, -1_500.0)
    assert len(settlements) == 3
    assert len(columns) == 3  # the far rows stay
    assert not columns.expiring_by(near_expiry)
    assert np.all(np.isfinite(columns.revalue(MARKETS[0]).values))
