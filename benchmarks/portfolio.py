"""A synthetic option book for the engine benchmarks: positions, ticks and a live engine.

`positions` option positions on one underlying (XYZ, spot near 100), spread evenly over
`books` books; each book holds distinct contracts (so every position is one row of the
engine's columns), 1-10 contracts long or short, strikes 70-130, expiries 1-24 months out.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from benchmarks.kernel import FloatArray, bare_black_scholes
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import FillReport, PriceTick, RecoveryCompleted, Side
from hedger.core.instruments import (
    DEFAULT_EXPIRY_TIME,
    DEFAULT_EXPIRY_TIMEZONE,
    OptionContract,
    expiry_instant_ns,
    year_fractions,
)
from hedger.core.policy import BandPolicy

SYMBOL = "XYZ"
START_SPOT = 100.0
VOL = 0.20  # the engine's default_vol: no VolUpdate is sent
RATE = 0.03
MULTIPLIER = 100.0
TICK_INTERVAL_NS = 1_000_000
TICK_MOVE = 0.02  # standard deviation of one tick's move, in currency
START = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
START_NS = int(START.timestamp()) * 1_000_000_000
# A book's band is this many standard deviations of one tick's delta change, so a book
# hedges every few ticks on average.
BAND_IN_TICK_MOVES = 3.0


@dataclass(frozen=True)
class Portfolio:
    fills: list[FillReport]
    strike: FloatArray
    expiry_ns: np.ndarray
    sign: FloatArray  # +1.0 call, -1.0 put
    units: FloatArray  # signed shares of exposure per row (contracts × multiplier)
    book_of_row: np.ndarray
    books: int

    def time_years(self, ts_ns: int) -> FloatArray:
        return year_fractions(ts_ns, self.expiry_ns)

    def band_shares(self, move: float = TICK_MOVE * BAND_IN_TICK_MOVES) -> float:
        """The delta a typical book's gamma makes of a `move` of the underlying: by
        default a band that some books cross on some ticks (see BAND_IN_TICK_MOVES)."""
        greeks = bare_black_scholes(
            START_SPOT, self.strike, self.time_years(START_NS), VOL, RATE, 0.0, self.sign
        )
        book_gamma = np.bincount(self.book_of_row, greeks[2] * self.units, minlength=self.books)
        return float(np.median(np.abs(book_gamma))) * move


def make_portfolio(positions: int, books: int, seed: int = 11) -> Portfolio:
    generator = np.random.default_rng(seed)
    per_book = positions // books
    contracts = _contract_grid()
    fills: list[FillReport] = []
    rows: list[tuple[OptionContract, float, int]] = []
    for book in range(books):
        for index in generator.choice(len(contracts), per_book, replace=False):
            contract = contracts[index]
            qty = int(generator.integers(1, 11))
            side = Side.BUY if generator.random() < 0.5 else Side.SELL
            fill_id = f"F-{book}-{len(fills)}"
            fills.append(
                FillReport(fill_id, f"book-{book}", contract.occ_symbol, side, qty, 1.0, START_NS)
            )
            rows.append((contract, side.sign * qty * MULTIPLIER, book))
    zone = ZoneInfo(DEFAULT_EXPIRY_TIMEZONE)
    return Portfolio(
        fills=fills,
        strike=np.array([c.strike for c, _, _ in rows]),
        expiry_ns=np.array(
            [expiry_instant_ns(c.expiry, DEFAULT_EXPIRY_TIME, zone) for c, _, _ in rows],
            dtype=np.int64,
        ),
        sign=np.array([1.0 if c.is_call else -1.0 for c, _, _ in rows]),
        units=np.array([units for _, units, _ in rows]),
        book_of_row=np.array([book for _, _, book in rows], dtype=np.intp),
        books=books,
    )


def _contract_grid() -> list[OptionContract]:
    """24 monthly expiries × 61 strikes (70-130) × call/put: 2,928 contracts."""
    expiries = [dt.date(2026 + (3 + m) // 12, (3 + m) % 12 + 1, 15) for m in range(24)]
    strikes = [70.0 + step for step in range(61)]
    return [
        OptionContract(SYMBOL, expiry, is_call, strike)
        for expiry in expiries
        for strike in strikes
        for is_call in (True, False)
    ]


def live_engine(portfolio: Portfolio, band_shares: float | None = None) -> HedgeEngine:
    """An engine holding the portfolio, live, with a band some ticks cross (by default)."""
    band = portfolio.band_shares() if band_shares is None else band_shares
    config = EngineConfig(
        policy=BandPolicy(band_shares=band),
        rate=RATE,
        default_vol=VOL,
        default_multiplier=MULTIPLIER,
    )
    engine = HedgeEngine(config)
    for fill in portfolio.fills:
        engine.handle(fill)
    engine.handle(RecoveryCompleted(ts_ns=START_NS))
    return engine


def random_walk_ticks(count: int, seed: int = 13) -> list[PriceTick]:
    """`count` ticks on SYMBOL, one per ms after START_NS, mid a random walk from 100."""
    generator = np.random.default_rng(seed)
    mids = START_SPOT + np.cumsum(generator.normal(0.0, TICK_MOVE, count))
    return [
        PriceTick(SYMBOL, START_NS + (i + 1) * TICK_INTERVAL_NS, mid - 0.01, mid + 0.01, None, mid)
        for i, mid in enumerate(mids.tolist())
    ]
