"""The market-maker example of docs/concepts/books.md, shared by the pure and the broker tests.

Book mm-1 buys 10,000 calls (multiplier 1) on XYZ struck at 98 with 0.16386... years left
and 37.07% vol at a 4% rate: delta 0.60 at spot 100 and 0.65 at spot 102 (solved once,
checked against QuantLib in the tests), so the hedger sells 6,000 shares and then 500 more.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hedger.core.events import FillReport, PriceTick, Side, VolUpdate
from hedger.core.instruments import NANOS_PER_YEAR, OptionContract, expiry_instant_ns

RATE = 0.04
VOL = 0.3706767199153859
YEARS_TO_EXPIRY = 0.16386357876251645
STRIKE = 98.0
CONTRACTS = 10_000
EXPIRY = dt.date(2027, 1, 15)
CALL = OptionContract("XYZ", EXPIRY, True, STRIKE)
EXPIRY_NS = expiry_instant_ns(EXPIRY, dt.time(16, 0), ZoneInfo("America/New_York"))
START_NS = EXPIRY_NS - round(YEARS_TO_EXPIRY * NANOS_PER_YEAR)
SECOND = 1_000_000_000


def tick(spot: float, seconds: int) -> PriceTick:
    return PriceTick("XYZ", START_NS + seconds * SECOND, spot - 0.01, spot + 0.01, None, spot)


def vol() -> VolUpdate:
    return VolUpdate("XYZ", START_NS - SECOND, VOL)


def client_buys_calls() -> FillReport:
    return FillReport(
        fill_id="C-1",
        book="mm-1",
        instrument=CALL.occ_symbol,
        side=Side.BUY,
        qty=CONTRACTS,
        price=5.25,
        ts_ns=START_NS - SECOND,
        multiplier=1,
    )
