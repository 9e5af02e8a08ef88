"""Each book's no-trade zone, exported per book: its own policy's target range and band.

The zone an exposure reports must be the one the decision path trades on: a book trades
when its net delta leaves [target_low − band, target_high + band] and not before. Books
are the deep calls of `tests.scenarios.deep_calls` (delta +1 per call bought), so the net
delta is exactly the number of calls.
"""

from __future__ import annotations

import math

import pytest

from hedger.adapters.metrics import Metrics
from hedger.core.decisions import BookSetup
from hedger.core.engine import Exposure
from hedger.core.policy import BandPolicy, BandWidth
from tests.scenarios.deep_calls import client_buys, make_engine, orders, tick

# 20,000 in currency at a mark of 100: 200 shares either side of [-500, 500].
RANGE_IN_CURRENCY = BandPolicy(
    band_shares=0.0,
    target_delta=-500.0,
    target_delta_high=500.0,
    width=BandWidth.CURRENCY,
    band_currency=20_000.0,
    name="range",
)
BOOKS = (("mm-2", BookSetup(RANGE_IN_CURRENCY)),)


def exposure_of(engine, book: str) -> Exposure:
    return next(e for e in engine.exposures() if e.book == book)


def test_each_book_reports_its_own_policys_target_range_and_band():
    engine = make_engine(books=BOOKS)
    tick(engine, 100.0, 0)
    client_buys(engine, 50, 1)
    client_buys(engine, 50, 1, book="mm-2")
    default, own = exposure_of(engine, "mm-1"), exposure_of(engine, "mm-2")
    assert (default.target_low, default.target_high, default.band) == (0.0, 0.0, 100.0)
    assert (own.target_low, own.target_high, own.band) == (-500.0, 500.0, 200.0)


def test_a_currency_band_follows_the_mark():
    engine = make_engine(books=BOOKS)
    tick(engine, 100.0, 0)
    client_buys(engine, 50, 1, book="mm-2")
    tick(engine, 80.0, 2)
    assert exposure_of(engine, "mm-2").band == pytest.approx(20_000.0 / 80.0, rel=1e-15)


@pytest.mark.parametrize(
    ("book", "inside", "outside"),
    [("mm-1", 100, 101), ("mm-2", 700, 701)],
)
def test_a_book_trades_exactly_when_its_delta_leaves_the_exported_zone(book, inside, outside):
    engine = make_engine(books=BOOKS)
    tick(engine, 100.0, 0)
    assert orders(client_buys(engine, inside, 1, book=book)) == []
    zone = exposure_of(engine, book)
    assert zone.delta == pytest.approx(inside, abs=1e-9)
    assert zone.delta <= zone.target_high + zone.band
    sent = orders(client_buys(engine, outside - inside, 2, book=book))
    assert outside > zone.target_high + zone.band
    assert [order.book for order in sent] == [book]


def test_a_band_that_needs_a_mark_is_nan_before_the_first_tick():
    engine = make_engine(books=BOOKS)
    client_buys(engine, 50, 1, book="mm-2")
    assert math.isnan(exposure_of(engine, "mm-2").band)


def test_metrics_export_the_zone_per_book_and_underlying():
    engine = make_engine(books=BOOKS)
    tick(engine, 100.0, 0)
    client_buys(engine, 50, 1)
    client_buys(engine, 50, 1, book="mm-2")
    metrics = Metrics()
    metrics.record_exposures(engine.exposures())

    def gauge(name: str, book: str) -> float | None:
        labels = {"book": book, "underlying": "XYZ"}
        return metrics.registry.get_sample_value(name, labels)

    exported = {
        book: tuple(
            gauge(name, book)
            for name in (
                "hedger_target_delta_shares",
                "hedger_target_delta_high_shares",
                "hedger_hedge_band_shares",
            )
        )
        for book in ("mm-1", "mm-2")
    }
    assert exported == {"mm-1": (0.0, 0.0, 100.0), "mm-2": (-500.0, 500.0, 200.0)}
