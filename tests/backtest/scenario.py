"""A small market for backtest tests: XYZ ticks, a vol, client call trades, QuantLib values."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hedger.core.engine import EngineConfig
from hedger.core.events import FillReport, PriceTick, Side, VolUpdate
from hedger.core.instruments import OptionContract, expiry_instant_ns, year_fraction
from hedger.core.policy import BandPolicy
from tests.backtest import quantlib_reference

T0 = int(dt.datetime(2026, 11, 20, 14, 30, tzinfo=dt.UTC).timestamp()) * 10**9
SECOND = 10**9
VOL = 0.25
RATE = 0.03
CALL = OptionContract("XYZ", dt.date(2026, 12, 18), True, 100.0)
EXPIRY_NS = expiry_instant_ns(CALL.expiry, dt.time(16, 0), ZoneInfo("America/New_York"))


def engine_config(band: float = 100.0, **policy: object) -> EngineConfig:
    return EngineConfig(
        policy=BandPolicy(band_shares=band, **policy),  # type: ignore[arg-type]
        rate=RATE,
        default_vol=VOL,
        default_multiplier=100.0,
    )


def tick(second: float, mark: float) -> PriceTick:
    ts = T0 + round(second * SECOND)
    return PriceTick("XYZ", ts, round(mark - 0.01, 4), round(mark + 0.01, 4), None, mark)


def call_value(second: float, spot: float) -> float:
    """QuantLib's value of one CALL at `second` after T0 with the scenario's vol and rate."""
    years = year_fraction(T0 + round(second * SECOND), EXPIRY_NS)
    return quantlib_reference.price(spot, CALL.strike, years, VOL, RATE, 0.0, True)


def call_delta(second: float, spot: float) -> float:
    years = year_fraction(T0 + round(second * SECOND), EXPIRY_NS)
    return quantlib_reference.delta(spot, CALL.strike, years, VOL, RATE, 0.0, True)


def client_buys_calls(
    second: float, contracts: float, price: float, fill_id: str = "C-1"
) -> FillReport:
    ts = T0 + round(second * SECOND)
    return FillReport(fill_id, "mm-1", CALL.occ_symbol, Side.BUY, contracts, price, ts)


def vol(second: float, value: float = VOL) -> VolUpdate:
    return VolUpdate("XYZ", T0 + round(second * SECOND), value)
