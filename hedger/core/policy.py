"""When and how much to hedge: no-transaction band policies, per book and underlying.

Every policy is a band around a target range of net delta (counting working orders): while
net delta stays within `[target_low − H, target_high + H]` nothing trades; outside it the
policy trades back to the target range (`hedge_to = target`) or to the band's edge
(`hedge_to = edge`), in whole lots. The band's half-width H, in shares, is one of:

- `shares`: H = band_shares.
- `currency`: H = band_currency / S (a band on delta in currency, S the mark).
- `gamma`: H = band_gamma_moves × |Γ|, the delta a move of `band_gamma_moves` makes.
- `whalley_wilmott`: H = (3/2 · e^{−r(T−t)} · λ · S · Γ² / γ)^{1/3} (Whalley & Wilmott
  1997), λ the proportional cost, γ the risk aversion, Γ the book's gamma in shares per
  1.00 move, T − t the years to the book's last expiry on the underlying.

Leland (1985): a policy with `leland_cost` k > 0 computes the options' delta at the
cost-adjusted vol σ̂ = σ·sqrt(1 + Le) with Le = sqrt(2/π) · k / (σ·sqrt(Δt)), k the
round-trip proportional cost and Δt the rebalancing interval in years. That is the writer's
(short gamma) adjustment; a long-gamma book uses 1 − Le (Hoggard, Whalley & Wilmott 1994),
floored at zero variance.

A timed policy (`rebalance_every_ns` > 0) is evaluated only on timer events, at most once
per interval of event time; the others on every tick, vol and fill of the underlying.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hedger.core.instruments import NANOS_PER_YEAR

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

_TWO_OVER_PI = 2.0 / math.pi


def beyond_band(net_delta: Any, low: float, high: float, band: Any) -> Any:
    """Whether a net delta (elementwise for arrays) lies more than `band` outside the
    target range [low, high]: the one test of every band decision."""
    return (net_delta - high > band) | (low - net_delta > band)


class BandWidth(enum.StrEnum):
    SHARES = "shares"
    CURRENCY = "currency"
    GAMMA = "gamma"
    WHALLEY_WILMOTT = "whalley_wilmott"


class HedgeTo(enum.StrEnum):
    TARGET = "target"
    EDGE = "edge"


def whalley_wilmott_band(
    spot: float,
    gamma: float,
    cost_fraction: float,
    risk_aversion: float,
    rate: float,
    years_to_horizon: float,
) -> float:
    """Half-width of the Whalley–Wilmott no-transaction band, in shares."""
    discount = math.exp(-rate * max(years_to_horizon, 0.0))
    return math.cbrt(1.5 * discount * cost_fraction * spot * gamma**2 / risk_aversion)


def leland_volatility(
    vol: float, round_trip_cost: float, interval_years: float, gamma: float
) -> float:
    """Leland's cost-adjusted vol: raised for a short-gamma book, lowered for a long one."""
    if vol <= 0.0:
        return vol  # no randomness: nothing for costs to adjust
    leland_number = math.sqrt(_TWO_OVER_PI) * round_trip_cost / (vol * math.sqrt(interval_years))
    sign = -1.0 if gamma > 0 else 1.0
    return math.sqrt(max(vol * vol * (1.0 + sign * leland_number), 0.0))


@dataclass(frozen=True, slots=True)
class BandInputs:
    """What a band's width depends on: the mark, the book's gamma (shares per 1.00 move),
    the rate and the years to the book's last expiry on the underlying."""

    spot: float
    gamma: float
    rate: float
    years_to_horizon: float


@dataclass(frozen=True, slots=True)
class BandPolicy:
    """One book's hedging policy on an underlying; formulas in the module docstring.

    `target_delta` is the target, or the low end of a target range up to
    `target_delta_high`. Quantities below `min_order_shares` are not sent.
    """

    band_shares: float
    target_delta: float = 0.0
    lot_size: float = 1.0
    min_interval_ns: int = 0
    name: str = "band"
    width: BandWidth = BandWidth.SHARES
    band_currency: float = 0.0
    band_gamma_moves: float = 0.0
    cost_fraction: float = 0.0
    risk_aversion: float = 1.0
    target_delta_high: float | None = None
    hedge_to: HedgeTo = HedgeTo.TARGET
    min_order_shares: float = 0.0
    rebalance_every_ns: int = 0
    leland_cost: float = 0.0
    leland_interval_ns: int = 0

    def __post_init__(self) -> None:
        problem = self._problem()
        if problem:
            raise ValueError(f"invalid policy {self.name!r}: {problem}")

    def _problem(self) -> str:
        # Written so that NaN fails every test: a NaN band would hedge on every input and a
        # NaN lot or target would crash in round(). An infinite band means "never hedge".
        checks = {
            "band_shares must be >= 0": self.band_shares >= 0,
            "lot_size must be positive and finite": 0 < self.lot_size < math.inf,
            "target_delta must be finite": math.isfinite(self.target_delta),
            "target_delta_high must be finite and >= target_delta": (
                self.target_delta_high is None
                or self.target_delta <= self.target_delta_high < math.inf
            ),
            "intervals must be >= 0": min(
                self.min_interval_ns, self.rebalance_every_ns, self.leland_interval_ns
            )
            >= 0,
            "band_currency, band_gamma_moves, min_order_shares must be finite and >= 0": all(
                0 <= value < math.inf
                for value in (self.band_currency, self.band_gamma_moves, self.min_order_shares)
            ),
            "cost_fraction and leland_cost must be in [0, 1)": all(
                0 <= value < 1 for value in (self.cost_fraction, self.leland_cost)
            ),
            "risk_aversion must be positive and finite": 0 < self.risk_aversion < math.inf,
            "leland_cost needs a rebalancing interval": (
                self.leland_cost == 0 or self.leland_interval_years > 0
            ),
        }
        return "; ".join(message for message, ok in checks.items() if not ok)

    @property
    def target_range(self) -> tuple[float, float]:
        high = self.target_delta if self.target_delta_high is None else self.target_delta_high
        return self.target_delta, high

    @property
    def timed(self) -> bool:
        return self.rebalance_every_ns > 0

    @property
    def leland_interval_years(self) -> float:
        """Δt of Leland's formula: its own setting, else the timed rebalancing interval."""
        interval_ns = self.leland_interval_ns or self.rebalance_every_ns
        return interval_ns / NANOS_PER_YEAR

    def band(self, inputs: BandInputs) -> float:
        """Half-width H of the no-transaction band, in shares."""
        by_mark = self.band_at_marks(inputs.spot)
        if by_mark is not None:
            return float(by_mark)
        if self.width is BandWidth.GAMMA:
            return self.band_gamma_moves * abs(inputs.gamma)
        return whalley_wilmott_band(
            inputs.spot,
            inputs.gamma,
            self.cost_fraction,
            self.risk_aversion,
            inputs.rate,
            inputs.years_to_horizon,
        )

    def goal(self, net_delta: float, band: float) -> float | None:
        """The net delta to trade back to: the nearest end of the target range, or the
        band's nearest edge; None while `net_delta` is inside the band (edges included)."""
        low, high = self.target_range
        if not beyond_band(net_delta, low, high, band):
            return None
        edge = band if self.hedge_to is HedgeTo.EDGE else 0.0
        return high + edge if net_delta - high > band else low - edge

    @property
    def fixed_band(self) -> tuple[float, float, float] | None:
        """(low, high, band) when a band decision depends on the net delta alone: a band in
        shares, no Leland volatility, not timed. None otherwise."""
        if self.width is not BandWidth.SHARES or self.leland_cost or self.timed:
            return None
        return (*self.target_range, self.band_shares)

    def band_at_marks(self, marks: FloatArray | float) -> FloatArray | float | None:
        """`band` at each mark when it depends on the mark alone (shares and currency
        widths); None for the widths that need the book's gamma."""
        if self.width is BandWidth.SHARES:
            return self.band_shares
        if self.width is BandWidth.CURRENCY:
            return self.band_currency / marks
        return None

    def whole_lots(self, quantity: float) -> float:
        """`quantity` rounded to the nearest whole lot."""
        return float(round(quantity / self.lot_size) * self.lot_size)
