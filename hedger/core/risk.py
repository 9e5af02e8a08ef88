"""Option positions on one underlying, held as columns, revalued together on each tick.

A tick on an underlying revalues every option position on it in one vectorised Black-Scholes
call and sums the Greeks per book with `np.bincount`, so the cost per tick is one numpy pass,
not a Python loop over positions.

Units (per book, for the positions on this underlying; see the README's units table):
delta in shares, gamma in shares per 1.00 move of the underlying, vega in currency per vol
point, theta in currency per calendar day.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt

from hedger.core.greeks import black_scholes
from hedger.core.instruments import year_fractions

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MarketInputs:
    """What a revaluation needs besides the positions: all rates continuously compounded."""

    spot: float
    vol: float
    rate: float
    dividend_yield: float
    ts_ns: int


@dataclass(frozen=True, slots=True)
class BookGreeks:
    """Greeks of each book's options on one underlying, indexed like `OptionColumns.books`."""

    delta: FloatArray
    gamma: FloatArray
    vega: FloatArray
    theta: FloatArray


class OptionColumns:
    """Every book's option positions on one underlying: one row per (book, contract)."""

    def __init__(self) -> None:
        self.books: list[str] = []
        self._book_index: dict[str, int] = {}
        self._rows: dict[tuple[str, str], int] = {}
        self._strike: list[float] = []
        self._expiry_ns: list[int] = []
        self._is_call: list[bool] = []
        self._units: list[float] = []
        self._book_of_row: list[int] = []
        self._arrays: _Arrays | None = None

    def book_index(self, book: str) -> int:
        if book not in self._book_index:
            self._book_index[book] = len(self.books)
            self.books.append(book)
        return self._book_index[book]

    def add(
        self,
        book: str,
        contract_key: str,
        strike: float,
        expiry_ns: int,
        is_call: bool,
        units: float,
    ) -> None:
        """Add `units` (contracts × multiplier, signed) of one contract to a book."""
        key = (book, contract_key)
        row = self._rows.get(key)
        if row is None:
            self._rows[key] = len(self._units)
            self._strike.append(strike)
            self._expiry_ns.append(expiry_ns)
            self._is_call.append(is_call)
            self._units.append(units)
            self._book_of_row.append(self.book_index(book))
        else:
            self._units[row] += units
        # Fills are rare next to ticks: rebuild the arrays lazily on the next revaluation.
        self._arrays = None

    def revalue(self, market: MarketInputs) -> BookGreeks:
        arrays = self._columns()
        greeks = black_scholes(
            market.spot,
            arrays.strike,
            year_fractions(market.ts_ns, arrays.expiry_ns),
            market.vol,
            market.rate,
            market.dividend_yield,
            arrays.is_call,
        )
        books = len(self.books)

        def per_book(values: FloatArray) -> FloatArray:
            weighted = values * arrays.units
            # With weights, bincount returns float64; numpy's stubs only know the int form.
            summed = np.bincount(arrays.book_of_row, weights=weighted, minlength=books)
            return cast(FloatArray, summed)

        return BookGreeks(
            per_book(greeks.delta),
            per_book(greeks.gamma),
            per_book(greeks.vega),
            per_book(greeks.theta),
        )

    def _columns(self) -> _Arrays:
        if self._arrays is None:
            self._arrays = _Arrays(
                np.asarray(self._strike, dtype=np.float64),
                np.asarray(self._expiry_ns, dtype=np.int64),
                np.asarray(self._is_call, dtype=np.bool_),
                np.asarray(self._units, dtype=np.float64),
                np.asarray(self._book_of_row, dtype=np.intp),
            )
        return self._arrays


@dataclass(frozen=True, slots=True, eq=False)
class _Arrays:
    strike: FloatArray
    expiry_ns: npt.NDArray[np.int64]
    is_call: npt.NDArray[np.bool_]
    units: FloatArray
    book_of_row: npt.NDArray[np.intp]
