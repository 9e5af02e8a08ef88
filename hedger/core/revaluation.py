"""The engine's revaluation path: option columns per underlying, the vol each row is priced
at, expiry settlement, option quotes turned into surface points, and scenario grids.

* Model per underlying: American exercise for the configured American underlyings, else
  European; Black-76 (no carry, rho with the futures price fixed) for the configured
  futures underlyings, else Black-Scholes-Merton with the dividend yield.
* Vol per row: the surface's (`hedger.core.surface`) once the underlying has a live
  surface slice, else its flat vol, else the default. Surface vols are recomputed when a
  point arrives, when positions change, and when event time has moved
  ``SURFACE_REFRESH_NS`` since the last computation (total-variance interpolation drifts
  slowly with time).
* Expiry: a row leaves the columns once its underlying's market reaches its expiry
  instant (a tick stamped at or after it), settled at the mark of the last tick stamped at
  or before the instant (`hedger.core.expiry_marks`): a row booked after the market passed
  it settles at once, as it would have on the tick that passed it. A fill, vol or quote
  stamped after the instant does not settle: it can be read before a tick stamped before
  the instant, which would change the mark; meanwhile the row is valued at no time left
  (intrinsic value, delta ±1 or 0). Physical settlement (listed equity options): an
  in-the-money call becomes +units shares bought at the strike, a put −units sold at the
  strike; the rest lapses. Cash settlement (the configured cash-settled underlyings, such
  as indices): the intrinsic value is paid in cash, no shares move. Either way its
  intrinsic value is added to the book's settled value.
* Quotes: the implied vol of the quote's mid under the underlying's model, at the last
  mark, becomes the surface point of the option's expiry and strike; a quote outside the
  no-arbitrage bounds, or without an underlying price, is refused with the reason.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import numpy as np

from hedger.core.actions import InputRejected
from hedger.core.book import Holding
from hedger.core.events import OptionQuote, VolUpdate
from hedger.core.instruments import (
    NANOS_PER_SECOND,
    OptionContract,
    expiry_instant_ns,
    parse_occ,
)
from hedger.core.market import MarketState
from hedger.core.pnl_attribution import PnlAttribution
from hedger.core.pricing.european import CHARM, RHO, THETA, VANNA, VOLGA
from hedger.core.pricing.implied_vol import SOLVED, STATUS_REASONS, implied_vol
from hedger.core.risk import BookGreeks, MarketInputs, OptionColumns, PricingModel, Settlement
from hedger.core.row_kernels import NANOS_PER_DAY
from hedger.core.scenarios import ScenarioGrid, Shocks, scenario_grid

if TYPE_CHECKING:
    from hedger.core.engine import EngineConfig

SURFACE_REFRESH_NS = 60 * NANOS_PER_SECOND


class Revaluation:
    """Owns the option columns (shared with the engine's valuation) and their Greeks."""

    def __init__(
        self,
        config: EngineConfig,
        market: MarketState,
        options: dict[str, OptionColumns],
        holdings: dict[tuple[str, str], Holding],
        pnl: PnlAttribution,
    ) -> None:
        """`options` and `holdings` are the engine's, shared: every book with a row on an
        underlying has its holding there (the engine creates it when it books the row).
        `pnl` is the engine's too: it values the holdings on either side of a settlement."""
        self._config = config
        self._market = market
        self._options = options
        self._holdings = holdings
        self._pnl = pnl
        self._zone = ZoneInfo(config.expiry_timezone)
        self.book_greeks: dict[str, BookGreeks] = {}
        self.settled_value: dict[tuple[str, str], float] = {}

    def model(self, symbol: str) -> PricingModel:
        config = self._config
        return PricingModel(
            american=symbol in config.american_underlyings,
            futures=symbol in config.futures_underlyings,
            days_per_year=config.days_per_year,
        )

    def columns(self, symbol: str) -> OptionColumns:
        columns = self._options.get(symbol)
        if columns is None:
            columns = self._options[symbol] = OptionColumns(self.model(symbol))
        return columns

    def columns_of(self, symbol: str) -> OptionColumns | None:
        """The underlying's columns, if any option on it was ever booked."""
        return self._options.get(symbol)

    def expiry_ns(self, expiry: dt.date) -> int:
        return expiry_instant_ns(expiry, self._config.expiry_time, self._zone)

    def market_inputs(self, symbol: str, spot: float, ts_ns: int) -> MarketInputs:
        vol, rate, dividend = self._vol_and_carry(symbol)
        return MarketInputs(spot, vol, rate, dividend, ts_ns)

    def _vol_and_carry(self, symbol: str) -> tuple[float, float, float]:
        """(vol, rate, dividend yield) of `symbol`'s options now."""
        config = self._config
        vol = self._market.vols.get(symbol, config.default_vol)
        # Black-76: a futures price has no carry, so its "dividend yield" is the rate.
        dividend = config.rate if symbol in config.futures_underlyings else config.dividend_yield
        return vol, config.rate, dividend

    def _settle(self, symbol: str, columns: OptionColumns) -> None:
        """Take the rows whose expiry instant the market of `symbol` has reached out of the
        book, each expiry's settled at its mark (`MarketState.settlement_mark`)."""
        reached_ns = self._market.last_tick_ns(symbol)
        if reached_ns is None:
            return
        while (expiry_ns := columns.next_expiry_ns) is not None and expiry_ns <= reached_ns:
            mark = self._market.settlement_mark(symbol, expiry_ns)
            # The settled options' Greeks explain the P&L up to the instant, and the Greeks
            # of what is left (revalued at the instant) the P&L after it: left in the P&L's
            # Greeks, a settled option's delta would count the move of the shares it became
            # (or, settled in cash, a move it no longer has) a second time.
            self._pnl.value_underlying(symbol, expiry_ns, mark)
            self._book_settlements(symbol, columns.settle_expired(expiry_ns, mark), mark)
            self._revalue_columns(symbol, columns, mark, expiry_ns)
            # Priced at the instant for the P&L's Greeks alone: the revaluation at the
            # event's time prices the surface afresh, as it did before the settlement.
            columns.row_vols = None
            self._pnl.value_underlying(symbol, expiry_ns, mark)
            self.book_greeks.pop(symbol, None)

    def _book_settlements(self, symbol: str, settlements: list[Settlement], mark: float) -> None:
        cash_settled = symbol in self._config.cash_settled_underlyings
        for settlement in settlements:
            holding = self._holdings[(settlement.book, symbol)]
            if cash_settled:
                # The intrinsic value is paid (received) in cash; no shares change hands.
                holding.cash += settlement.intrinsic_value
            else:
                # Delivered at the expiry instant: their P&L counts from its mark on.
                holding.move_shares(settlement.delivered_shares, mark)
                # The strike is paid for shares received (call) and received for shares
                # delivered (put), so mark-to-model P&L does not jump at expiry.
                holding.cash -= settlement.delivered_shares * settlement.strike
            key = (settlement.book, symbol)
            self.settled_value[key] = self.settled_value.get(key, 0.0) + settlement.intrinsic_value

    def revalue(self, symbol: str, spot: float, ts_ns: int) -> None:
        """Settle what expired, then revalue every book's options on `symbol` at `spot`."""
        columns = self._options.get(symbol)
        if columns is None:
            return
        if columns.expiring_by(ts_ns):  # `ts_ns` is at or past the last tick
            self._settle(symbol, columns)
        self._revalue_columns(symbol, columns, spot, ts_ns)

    def _revalue_columns(
        self, symbol: str, columns: OptionColumns, spot: float, ts_ns: int
    ) -> None:
        vol, rate, dividend = self._vol_and_carry(symbol)
        row_vols = self.row_vols(symbol, columns, ts_ns)
        greeks = columns.revalue_at(spot, vol, rate, dividend, ts_ns, row_vols)
        self.book_greeks[symbol] = greeks
        # One conversion to Python floats for all books; fields are set in place.
        for book, row in zip(columns.books, greeks.values[:, : THETA + 1].tolist(), strict=True):
            holding = self._holdings[(book, symbol)]
            (
                holding.option_value,
                holding.option_delta,
                holding.option_gamma,
                holding.option_vega,
                holding.option_theta,
            ) = row

    def contract_greeks(
        self, symbol: str, contracts: list[OptionContract], spot: float, ts_ns: int
    ) -> BookGreeks:
        """Value and Greeks of one unit of each contract on `symbol`, in the given order, priced
        as the books' options are (model, surface or flat vol, carry, day count): for the
        options gamma/vega hedging trades, which must move the Greeks it measures."""
        columns = OptionColumns(self.model(symbol))
        for row, contract in enumerate(contracts):
            # One "book" per row, so a contract listed twice still has a row of its own.
            expiry_ns = self.expiry_ns(contract.expiry)
            key = contract.occ_symbol
            columns.add(str(row), key, contract.strike, expiry_ns, contract.is_call, 1.0)
        vol, rate, dividend = self._vol_and_carry(symbol)
        row_vols = self.row_vols(symbol, columns, ts_ns)
        return columns.revalue_at(spot, vol, rate, dividend, ts_ns, row_vols)

    def row_vols(self, symbol: str, columns: OptionColumns, ts_ns: int) -> np.ndarray | None:
        """The surface's vol per row, cached until stale; None when the flat vol applies."""
        surface = self._market.surfaces.get(symbol)
        if surface is None or not len(columns):
            return None
        stale = ts_ns - columns.row_vols_ns >= SURFACE_REFRESH_NS or ts_ns < columns.row_vols_ns
        if columns.row_vols is None or stale:
            rows = columns.rows()
            columns.row_vols = surface.vols(
                ts_ns, rows.expiry_ns, rows.strike, self._config.days_per_year
            )
            columns.row_vols_ns = ts_ns
        return columns.row_vols

    def accept_vol(self, update: VolUpdate) -> InputRejected | None:
        """Record a flat vol or a surface point; a strike without an expiry is refused."""
        if update.expiry is None and update.strike is not None:
            return InputRejected("bad_value", "a surface point with a strike needs an expiry")
        expiry_ns = None if update.expiry is None else self.expiry_ns(update.expiry)
        self._market.accept_vol(update, expiry_ns)
        self._surface_changed(update.symbol)
        return None

    def accept_quote(self, quote: OptionQuote) -> InputRejected | None:
        """Turn the quote's implied vol into a surface point, or refuse it with the reason."""
        contract = parse_occ(quote.symbol, quote.ts_ns)
        root = contract.root
        tick = self._market.ticks.get(root)
        if tick is None:
            return InputRejected("no_underlying_price", f"no tick for {root} yet")
        expiry_ns = self.expiry_ns(contract.expiry)
        market = self.market_inputs(root, tick.mark, quote.ts_ns)
        model = self.model(root)
        time = (expiry_ns - quote.ts_ns) / (NANOS_PER_DAY * model.days_per_year)
        sign = 1.0 if contract.is_call else -1.0
        vol, status = implied_vol(
            quote.mid,
            market.spot,
            contract.strike,
            time,
            market.rate,
            market.dividend_yield,
            sign,
            model.futures,
            model.american,
        )
        if status != SOLVED:
            detail = f"{quote.symbol} mid {quote.mid} at spot {market.spot}: no implied vol"
            return InputRejected(STATUS_REASONS[status], detail)
        surface_point = VolUpdate(root, quote.ts_ns, vol, contract.expiry, contract.strike)
        self._market.accept_vol(surface_point, expiry_ns)
        self._surface_changed(root)
        return None

    def second_order(self, book: str, symbol: str) -> tuple[float, float, float, float]:
        """(rho, vanna, volga, charm) of a book's options on `symbol` at the last revaluation."""
        greeks = self.book_greeks.get(symbol)
        columns = self._options.get(symbol)
        if greeks is None or columns is None or book not in columns.books:
            return 0.0, 0.0, 0.0, 0.0
        row = greeks.values[columns.book_index(book)].tolist()
        return row[RHO], row[VANNA], row[VOLGA], row[CHARM]

    def _surface_changed(self, symbol: str) -> None:
        columns = self._options.get(symbol)
        if columns is not None:
            columns.row_vols = None

    def scenario_grids(self, shocks: Shocks) -> dict[str, ScenarioGrid]:
        """Each underlying's grid at its last mark and the time of its last revaluation."""
        grids = {}
        for symbol, columns in self._options.items():
            tick = self._market.ticks.get(symbol)
            if tick is None or not len(columns):
                continue
            market = self.market_inputs(symbol, tick.mark, tick.ts_ns)
            shares = np.array([self._holdings[(book, symbol)].shares for book in columns.books])
            vols = self.row_vols(symbol, columns, tick.ts_ns)
            grids[symbol] = scenario_grid(columns, market, shares, shocks, vols)
        return grids
