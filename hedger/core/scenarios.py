"""Scenario grids: each book's P&L under spot and vol shocks, by full revaluation.

A cell moves the underlying by a relative spot shock and every option's implied vol by a
number of vol points (floored at ``MIN_SHOCKED_VOL``), at the same instant, and revalues
every option position with the same model as the live Greeks. Cell P&L (currency) is
the change of the options' value plus the shares held × the spot move. No time passes,
and working orders are not counted (they are not held yet).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hedger.core.risk import MarketInputs, OptionColumns

FloatArray = npt.NDArray[np.float64]

DEFAULT_SPOT_SHOCKS = (-0.20, -0.15, -0.10, -0.05, 0.0, 0.05, 0.10, 0.15, 0.20)
DEFAULT_VOL_SHOCKS = (-10.0, -5.0, 0.0, 5.0, 10.0)  # vol points
MIN_SHOCKED_VOL = 0.001


@dataclass(frozen=True, slots=True)
class Shocks:
    """Relative spot moves (0.05 = +5%) and vol moves in vol points (5.0 = +0.05 of vol)."""

    spot: tuple[float, ...] = DEFAULT_SPOT_SHOCKS
    vol_points: tuple[float, ...] = DEFAULT_VOL_SHOCKS

    def __post_init__(self) -> None:
        values = (*self.spot, *self.vol_points)
        if not self.spot or not self.vol_points or not np.all(np.isfinite(values)):
            raise ValueError(f"shocks must be finite and non-empty, got {self}")
        if min(self.spot) <= -1.0:
            raise ValueError(f"a spot shock must be above -100%, got {min(self.spot)}")


@dataclass(frozen=True, slots=True)
class Extreme:
    """One cell of a book's grid: its P&L and the shocks that give it."""

    pnl: float
    spot_shock: float
    vol_shock_points: float


@dataclass(frozen=True, slots=True, eq=False)
class ScenarioGrid:
    """P&L per book and cell: ``pnl[book, spot_shock, vol_shock]``, books as in `books`."""

    books: list[str]
    shocks: Shocks
    pnl: FloatArray

    def worst(self, book: int) -> Extreme:
        """The cell with the lowest P&L (the largest loss) of one book."""
        return self._cell(book, int(np.argmin(self.pnl[book])))

    def best(self, book: int) -> Extreme:
        return self._cell(book, int(np.argmax(self.pnl[book])))

    def _cell(self, book: int, flat: int) -> Extreme:
        spot, vol = np.unravel_index(flat, self.pnl.shape[1:])
        return Extreme(
            float(self.pnl[book, spot, vol]),
            self.shocks.spot[spot],
            self.shocks.vol_points[vol],
        )


def scenario_grid(
    columns: OptionColumns,
    market: MarketInputs,
    shares: FloatArray,
    shocks: Shocks,
    row_vols: FloatArray | None = None,
) -> ScenarioGrid:
    """Every book's P&L on the grid; `shares` holds each book's shares, like `columns.books`."""
    base = columns.revalue(market, row_vols).value
    vols = row_vols if row_vols is not None else np.array([market.vol])
    pnl = np.empty((len(columns.books), len(shocks.spot), len(shocks.vol_points)))
    for i, spot_shock in enumerate(shocks.spot):
        spot = market.spot * (1.0 + spot_shock)
        for j, vol_points in enumerate(shocks.vol_points):
            shocked_vols = np.maximum(vols + vol_points / 100.0, MIN_SHOCKED_VOL)
            shocked = market._replace(spot=spot, vol=float(shocked_vols[0]))
            value = columns.revalue(shocked, shocked_vols if row_vols is not None else None).value
            pnl[:, i, j] = value - base + shares * (spot - market.spot)
    return ScenarioGrid(list(columns.books), shocks, pnl)
