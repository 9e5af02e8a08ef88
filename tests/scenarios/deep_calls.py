"""Books for the controls tests: clients trade deep in-the-money calls.

A call struck at 1 on a stock near 100, two years out, at zero rates, has delta 1.0 to
double precision: a book that buys N of them (multiplier 1) has delta +N, and the hedger
sells N shares (band 100, lot 1, unless a test says). No option pricing to second-guess.
"""

from __future__ import annotations

import datetime as dt

from hedger.core.actions import HedgeDenied, SubmitHedgeOrder
from hedger.core.controls import BookLimits, ControlLimits
from hedger.core.decisions import BookSetup
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import FillReport, PriceTick, RecoveryCompleted, Side
from hedger.core.instruments import OptionContract
from hedger.core.policy import BandPolicy

SECOND = 1_000_000_000
T0 = 1_795_185_000 * SECOND
POLICY = BandPolicy(band_shares=100.0)
DEEP_CALL = OptionContract("XYZ", dt.date(2028, 12, 15), True, 1.0).occ_symbol


def make_engine(
    policy: BandPolicy = POLICY,
    limits: BookLimits | None = None,
    controls: ControlLimits | None = None,
    books: tuple[tuple[str, BookSetup], ...] = (),
) -> HedgeEngine:
    config = EngineConfig(
        policy=policy,
        default_multiplier=1.0,
        limits=limits or BookLimits(),
        controls=controls or ControlLimits(),
        books=books,
    )
    engine = HedgeEngine(config)
    engine.handle(RecoveryCompleted(T0))
    return engine


def tick(engine: HedgeEngine, mark: float, seconds: float, symbol: str = "XYZ") -> list[object]:
    ts = T0 + round(seconds * SECOND)
    return engine.handle(PriceTick(symbol, ts, mark - 0.01, mark + 0.01, None, mark))


def client_buys(
    engine: HedgeEngine, calls: float, seconds: float, book: str = "mm-1", price: float = 99.0
) -> list[object]:
    """The client sells the book `calls` deep calls (negative: buys them from it)."""
    ts = T0 + round(seconds * SECOND)
    fill_id = f"C-{book}-{ts}-{calls}"
    return engine.handle(
        FillReport(fill_id, book, DEEP_CALL, Side.of(calls), abs(calls), price, ts)
    )


def fill(engine: HedgeEngine, order: SubmitHedgeOrder, price: float) -> list[object]:
    report = FillReport(
        f"PX-{order.order_id}", order.book, order.symbol, order.side, order.qty, price,
        order.ts_ns + 1, order_id=order.order_id, fee=0.0,
    )  # fmt: skip
    return engine.handle(report)


def orders(actions: list[object]) -> list[SubmitHedgeOrder]:
    return [a for a in actions if isinstance(a, SubmitHedgeOrder)]


def denials(actions: list[object]) -> list[str]:
    return [a.reason for a in actions if isinstance(a, HedgeDenied)]
