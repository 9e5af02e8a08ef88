"""Option positions on one underlying, held as columns, revalued together on each tick.

A tick on an underlying revalues every option position on it in one compiled loop
(`hedger.core.row_kernels`) that prices each row and adds its Greeks × units straight
into its book's totals, so a tick costs one pass over the rows with no Python loop and no
temporary arrays. Per-row
constants (strike, expiry, call/put, units, book) are packed into arrays once, when the
positions change; the vols per row are set by the engine when the vol inputs change.

Units (per book, for the positions on this underlying; see docs/reference/units.md):
value in currency; delta in shares; gamma in shares per 1.00 move of the underlying; vega
in currency per vol point; theta in currency per calendar day; rho in currency per
percentage point of rate; vanna in shares per vol point; volga in currency per vol point
per vol point; charm in shares per calendar day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from hedger.core.pricing.european import (
    CHARM,
    DELTA,
    GAMMA,
    OUTPUTS,
    PRICE,
    RHO,
    THETA,
    VANNA,
    VEGA,
    VOLGA,
)
from hedger.core.row_kernels import (
    STRIKE,
    FloatArray,
    IntArray,
    revalue_american,
    revalue_european,
)

_FLAT = np.empty(0)  # no vol per row: every row at the market's flat vol
# Day counts: time to expiry is calendar days over this many days (theta and charm are per
# calendar day whichever is chosen).
DAYS_PER_YEAR = {"ACT/365": 365.0, "ACT/365.25": 365.25, "ACT/360": 360.0}


@dataclass(frozen=True, slots=True)
class PricingModel:
    """How an underlying's options are priced: exercise style, carry and day count."""

    american: bool = False
    futures: bool = False  # Black-76: the underlying is a futures price, no carry
    days_per_year: float = 365.0


class MarketInputs(NamedTuple):
    """What a revaluation needs besides the positions: all rates continuously compounded.

    A named tuple: one is built for every tick, and a frozen dataclass costs several times
    more to build."""

    spot: float
    vol: float
    rate: float
    dividend_yield: float
    ts_ns: int


def _column(index: int) -> property:
    return property(lambda greeks: greeks.values[:, index], doc=f"column {index} of values")


class BookGreeks:
    """Each book's option value and Greeks on one underlying, rows like `OptionColumns.books`.

    ``values[book, field]`` with the field indices of `hedger.core.pricing.european`
    (``PRICE`` is the book's option value); the properties name the columns. A plain class:
    one is built on every tick, and a frozen dataclass costs twice as much to build.
    """

    __slots__ = ("values",)

    def __init__(self, values: FloatArray) -> None:
        self.values = values

    value = _column(PRICE)
    delta = _column(DELTA)
    gamma = _column(GAMMA)
    vega = _column(VEGA)
    theta = _column(THETA)
    rho = _column(RHO)
    vanna = _column(VANNA)
    volga = _column(VOLGA)
    charm = _column(CHARM)


@dataclass(frozen=True, slots=True)
class Settlement:
    """An option row that reached its expiry: its intrinsic value and the shares it became."""

    book: str
    contract_key: str
    strike: float
    units: float
    intrinsic_value: float  # currency, for all the units
    delivered_shares: float  # +units for an exercised call, −units for a put, else 0


@dataclass(frozen=True, slots=True, eq=False)
class Rows:
    """The packed per-row constants the kernels read.

    Two 2-D arrays rather than one array per field: a compiled call costs a few hundred
    nanoseconds per array argument it receives, as much as pricing a few rows."""

    floats: FloatArray  # [STRIKE | LOG_STRIKE | SIGN (+1.0 call, −1.0 put) | UNITS, row]
    indices: npt.NDArray[np.intp]  # [EXPIRY_OF_ROW | BOOK_OF_ROW, row]
    expiry_ns: IntArray
    # Rows share few expiries: time constants are computed once per distinct expiry.
    expiries_ns: IntArray

    @property
    def strike(self) -> FloatArray:
        strike: FloatArray = self.floats[STRIKE]
        return strike


@dataclass(slots=True)
class _RowLists:
    keys: list[tuple[str, str]] = field(default_factory=list)
    strike: list[float] = field(default_factory=list)
    expiry_ns: list[int] = field(default_factory=list)
    is_call: list[bool] = field(default_factory=list)
    units: list[float] = field(default_factory=list)
    book_of_row: list[int] = field(default_factory=list)


class OptionColumns:
    """Every book's option positions on one underlying: one row per (book, contract)."""

    def __init__(self, model: PricingModel | None = None) -> None:
        self.model = model if model is not None else PricingModel()
        self.books: list[str] = []
        self._book_index: dict[str, int] = {}
        self._row_of: dict[tuple[str, str], int] = {}
        self._lists = _RowLists()
        self._rows: Rows | None = None
        # Vols per row from a surface, kept by the engine; dropped whenever the rows change.
        self.row_vols: FloatArray | None = None
        self.row_vols_ns = 0
        self._next_expiry_ns: int | None = None

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
        row = self._row_of.get(key)
        lists = self._lists
        if row is None:
            self._row_of[key] = len(lists.units)
            lists.keys.append(key)
            lists.strike.append(strike)
            lists.expiry_ns.append(expiry_ns)
            lists.is_call.append(is_call)
            lists.units.append(units)
            lists.book_of_row.append(self.book_index(book))
            if self._next_expiry_ns is None or expiry_ns < self._next_expiry_ns:
                self._next_expiry_ns = expiry_ns
        else:
            lists.units[row] += units
        # Fills are rare next to ticks: pack the arrays again on the next revaluation.
        self._rows = None
        self.row_vols = None

    def __len__(self) -> int:
        return len(self._lists.units)

    def positions(self) -> dict[tuple[str, str], float]:
        """Units (contracts × multiplier, signed) per (book, contract key)."""
        return dict(zip(self._lists.keys, self._lists.units, strict=True))

    def rows(self) -> Rows:
        """The per-row arrays, packed once per change of positions."""
        if self._rows is None:
            lists = self._lists
            strike = np.asarray(lists.strike, dtype=np.float64)
            expiry_ns = np.asarray(lists.expiry_ns, dtype=np.int64)
            expiries_ns, expiry_of_row = np.unique(expiry_ns, return_inverse=True)
            sign = np.where(np.asarray(lists.is_call, dtype=np.bool_), 1.0, -1.0)
            self._rows = Rows(
                np.stack([strike, np.log(strike), sign, np.asarray(lists.units, dtype=np.float64)]),
                np.stack([expiry_of_row, lists.book_of_row]).astype(np.intp),
                expiry_ns,
                expiries_ns.astype(np.int64),
            )
        return self._rows

    def revalue(self, market: MarketInputs, row_vols: FloatArray | None = None) -> BookGreeks:
        """Value and Greeks per book at `market`: at `row_vols` (one per row) when given,
        else at the market's flat vol."""
        return self.revalue_at(*market, row_vols)

    def revalue_at(
        self,
        spot: float,
        vol: float,
        rate: float,
        dividend_yield: float,
        ts_ns: int,
        row_vols: FloatArray | None = None,
    ) -> BookGreeks:
        """`revalue` from the fields of `MarketInputs`, for the path of every tick that has
        them at hand: no tuple to build."""
        rows = self.rows()
        if row_vols is not None and row_vols.shape != (len(self),):
            raise ValueError(f"need {len(self)} row vols, got shape {row_vols.shape}")
        vols = row_vols if row_vols is not None else _FLAT
        # Allocated here, not in the kernel: a compiled call returning a new array costs
        # more than numpy's allocation and passing it in.
        out = np.zeros((len(self.books), OUTPUTS))
        model = self.model
        kernel = revalue_american if model.american else revalue_european
        kernel(
            spot,
            rate,
            dividend_yield,
            ts_ns,
            vol,
            vols,
            rows.floats,
            rows.indices,
            rows.expiries_ns,
            model.futures,
            model.days_per_year,
            out,
        )
        return BookGreeks(out)

    @property
    def next_expiry_ns(self) -> int | None:
        """The earliest expiry instant of the rows; None without rows."""
        return self._next_expiry_ns

    def expiring_by(self, ts_ns: int) -> bool:
        """True when some row's expiry instant is at or before `ts_ns`."""
        return self._next_expiry_ns is not None and self._next_expiry_ns <= ts_ns

    def settle_expired(self, ts_ns: int, spot: float) -> list[Settlement]:
        """Take every row expired by `ts_ns` out of the columns, settled at `spot`.

        Physical settlement, as for listed equity options: an in-the-money row becomes
        shares (OCC exercises in-the-money options), the rest lapses.
        """
        lists = self._lists
        expired = [row for row, expiry in enumerate(lists.expiry_ns) if expiry <= ts_ns]
        settlements = [self._settlement(row, spot) for row in expired]
        keep = [row for row in range(len(lists.units)) if lists.expiry_ns[row] > ts_ns]
        self._lists = _RowLists(
            *(
                [getattr(lists, name)[row] for row in keep]
                for name in _RowLists.__dataclass_fields__
            )
        )
        self._row_of = {key: row for row, key in enumerate(self._lists.keys)}
        self._next_expiry_ns = min(self._lists.expiry_ns, default=None)
        self._rows = None
        self.row_vols = None
        return settlements

    def _settlement(self, row: int, spot: float) -> Settlement:
        lists = self._lists
        sign = 1.0 if lists.is_call[row] else -1.0
        moneyness = sign * (spot - lists.strike[row])
        units = lists.units[row]
        exercised = moneyness > 0.0
        book, contract_key = lists.keys[row]
        return Settlement(
            book=book,
            contract_key=contract_key,
            strike=lists.strike[row],
            units=units,
            intrinsic_value=max(moneyness, 0.0) * units,
            delivered_shares=sign * units if exercised else 0.0,
        )


def load_kernels() -> None:
    """Load the compiled revaluation kernels of both exercise styles now: the first call of
    a compiled kernel initialises numba itself (~350 ms, even from the on-disk cache)."""
    for model in (PricingModel(), PricingModel(american=True)):
        columns = OptionColumns(model)
        columns.add("warm-up", "call", 100.0, 30 * 86_400 * 10**9, True, 1.0)
        columns.revalue_at(100.0, 0.2, 0.0, 0.0, 0)
