"""Mark-to-model P&L and its attribution, per book and underlying, from the engine's own
valuation: the one the backtest reports and the live service exports.

A holding's P&L = its cash (paid and received for every fill, and the strike at a physical
settlement) + the model value of its options (as the engine last revalued them: model,
surface or flat vol, carry, day count) + shares × mark − hedge fees + financing. It starts
at zero. Financing is interest at the rate on the holding's cash and dividends at the
yield on its shares (none on a futures underlying), continuously compounded and credited
at each valuation.

Valuations happen on a grid of event time (`EngineConfig.pnl_interval_ns`): at the first
market or fill event at or after each grid point, before it is handled; and just after
each option fill, so a new position's Greeks count from its first moment (its edge over
model value is a jump no Greek explains). An expiry's settlement (`hedger.core.revaluation`)
is valued on either side, at its instant and mark, for the holdings in its underlying
alone: the expiring options' Greeks explain the move up to the instant, the shares
delivered (none in cash) the move after it, and neither the other's. Each step from one
valuation to the next is attributed with the options' Greeks at its start:

| term | amount |
|---|---|
| delta | options' delta × ΔS, plus the shares' exact P&L (shares × mark moves, piecewise) |
| gamma | ½ × options' gamma × ΔS² |
| theta | options' theta × calendar days |
| vega | options' vega × Δσ in vol points (the flat vol) |
| financing | interest on cash and dividends on shares |
| costs | fees + (fill price − mark at the fill) × signed shares, for every share fill |
| residual | the rest: higher-order terms, surface moves, trades' edge over model value |

`now(ts_ns)` reads the P&L and its terms as of `ts_ns` (the step since the last valuation
included) without making it a valuation: what the live service exports, whenever it asks,
is the same as the backtest's final figures for the same inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from hedger.core.book import Holding
from hedger.core.instruments import NANOS_PER_YEAR
from hedger.core.market import MarketState
from hedger.core.row_kernels import NANOS_PER_DAY

if TYPE_CHECKING:
    from hedger.core.engine import EngineConfig

ATTRIBUTION_TERMS = ("delta", "gamma", "theta", "vega", "financing", "costs", "residual")
_GREEK_TERMS = ATTRIBUTION_TERMS[:4]
_VOL_POINTS = 100.0


@dataclass(frozen=True, slots=True)
class _Valued:
    """A holding at its last valuation: what the next step is attributed with."""

    ts_ns: int
    spot: float
    vol: float
    delta: float  # the options' alone; the shares' P&L is counted exactly
    gamma: float
    vega: float
    theta: float


@dataclass(frozen=True, slots=True)
class HoldingPnl:
    """One holding's P&L so far and its attribution (`ATTRIBUTION_TERMS`, currency)."""

    pnl: float
    net_delta: float
    attribution: dict[str, float]


@dataclass(slots=True)
class Sample:
    """The whole portfolio at one valuation: P&L so far and net delta (shares)."""

    ts_ns: int
    pnl: float
    net_delta: float


class PnlAttribution:
    """See the module docstring. The engine owns one, over its own holdings and market."""

    def __init__(
        self, config: EngineConfig, market: MarketState, holdings: dict[tuple[str, str], Holding]
    ) -> None:
        self._config = config
        self._market = market
        self._holdings = holdings
        self._interval_ns = config.pnl_interval_ns
        self._valued: dict[tuple[str, str], _Valued] = {}
        self._greek_terms: dict[tuple[str, str], list[float]] = {}
        self._last_valued_ns: int | None = None
        self.next_valuation_ns: int | None = None  # None: the first event is valued
        self.latest_ns = 0  # the newest event time seen, where `now` reads by default
        # The portfolio's P&L at every grid valuation, kept only when a caller asks for it
        # (the backtest's P&L series); the live service needs none.
        self.series: list[Sample] | None = None

    def before_event(self, ts_ns: int) -> None:
        """A market or fill event at `ts_ns` is about to be handled."""
        if ts_ns > self.latest_ns:
            self.latest_ns = ts_ns
        next_ns = self.next_valuation_ns
        if next_ns is None or ts_ns >= next_ns:
            self.value(ts_ns, record=True)
            self.next_valuation_ns = ts_ns - ts_ns % self._interval_ns + self._interval_ns

    def value(self, ts_ns: int, record: bool = False) -> None:
        """Make `ts_ns` a valuation: credit financing, attribute the step since the last
        one, and take the Greeks the next step is attributed with."""
        years = 0.0 if self._last_valued_ns is None else self._years_since(ts_ns)
        for key, holding in self._holdings.items():
            now = self._valued_now(key, holding, ts_ns)
            if now is None:
                continue
            holding.financing += self._financing(key, holding, now.spot, years)
            self._take(key, holding, now)
        self._last_valued_ns = ts_ns
        if record and self.series is not None:
            self.series.append(self.total(ts_ns))

    def value_underlying(self, symbol: str, ts_ns: int, spot: float) -> None:
        """Make (`ts_ns`, `spot`) a valuation of the holdings in `symbol` alone: on either
        side of a settlement. Financing waits for the next `value`, which credits every
        holding over one period; a valuation never goes back in time."""
        for key, holding in self._holdings.items():
            if key[1] == symbol:
                before = self._valued.get(key)
                at_ns = ts_ns if before is None else max(ts_ns, before.ts_ns)
                self._take(key, holding, self._valued_at(symbol, holding, at_ns, spot))

    def now(self, ts_ns: int | None = None) -> dict[tuple[str, str], HoldingPnl]:
        """Every holding's P&L and attribution as of `ts_ns` (default: the newest event),
        without making it a valuation."""
        at_ns = self.latest_ns if ts_ns is None else ts_ns
        years = 0.0 if self._last_valued_ns is None else self._years_since(at_ns)
        found = {}
        for key, holding in self._holdings.items():
            now = self._valued_now(key, holding, at_ns)
            if now is None:
                continue
            financing = holding.financing + self._financing(key, holding, now.spot, years)
            steps = self._step(key, holding, now)
            so_far = self._greek_terms.get(key, [0.0] * len(_GREEK_TERMS))
            terms = dict(zip(_GREEK_TERMS, map(sum, zip(so_far, steps, strict=True)), strict=True))
            terms["financing"] = financing
            terms["costs"] = -holding.trade_costs
            pnl = holding.marked_pnl(now.spot) + financing - holding.financing
            terms["residual"] = pnl - sum(terms.values())
            found[key] = HoldingPnl(pnl, holding.option_delta + holding.shares, terms)
        return found

    def total(self, ts_ns: int | None = None) -> Sample:
        """The whole portfolio (every book and underlying) as of `ts_ns`."""
        held = self.now(ts_ns).values()
        at_ns = self.latest_ns if ts_ns is None else ts_ns
        return Sample(at_ns, sum(h.pnl for h in held), sum(h.net_delta for h in held))

    def attribution(self, ts_ns: int | None = None) -> dict[str, float]:
        """The whole portfolio's attribution as of `ts_ns`."""
        terms = dict.fromkeys(ATTRIBUTION_TERMS, 0.0)
        for held in self.now(ts_ns).values():
            for term, amount in held.attribution.items():
                terms[term] += amount
        return terms

    def _take(self, key: tuple[str, str], holding: Holding, now: _Valued) -> None:
        """Attribute the step to `now` and take `now` as the next step's start."""
        terms = self._greek_terms.setdefault(key, [0.0] * len(_GREEK_TERMS))
        for index, amount in enumerate(self._step(key, holding, now)):
            terms[index] += amount
        holding.shares_pnl = 0.0
        holding.share_anchor = now.spot
        self._valued[key] = now

    def _valued_now(self, key: tuple[str, str], holding: Holding, ts_ns: int) -> _Valued | None:
        tick = self._market.ticks.get(key[1])
        if tick is None:  # nothing to mark the shares at: valued from its first tick on
            return None
        return self._valued_at(key[1], holding, ts_ns, tick.mark)

    def _valued_at(self, symbol: str, holding: Holding, ts_ns: int, spot: float) -> _Valued:
        vol = self._market.vols.get(symbol, self._config.default_vol)
        return _Valued(
            ts_ns,
            spot,
            vol,
            holding.option_delta,
            holding.option_gamma,
            holding.option_vega,
            holding.option_theta,
        )

    def _step(self, key: tuple[str, str], holding: Holding, now: _Valued) -> tuple[float, ...]:
        """(delta, gamma, theta, vega) of the step from the holding's last valuation."""
        anchor = holding.share_anchor
        shares_pnl = holding.shares_pnl
        if anchor is not None:
            shares_pnl += holding.shares * (now.spot - anchor)
        before = self._valued.get(key)
        if before is None:
            return shares_pnl, 0.0, 0.0, 0.0
        move = now.spot - before.spot
        return (
            shares_pnl + before.delta * move,
            0.5 * before.gamma * move * move,
            before.theta * (now.ts_ns - before.ts_ns) / NANOS_PER_DAY,
            before.vega * (now.vol - before.vol) * _VOL_POINTS,
        )

    def _financing(
        self, key: tuple[str, str], holding: Holding, spot: float, years: float
    ) -> float:
        if years == 0.0:
            return 0.0
        config = self._config
        cash = holding.cash - holding.fees + holding.financing
        interest = cash * math.expm1(config.rate * years)
        yield_ = 0.0 if key[1] in config.futures_underlyings else config.dividend_yield
        return interest + holding.shares * spot * math.expm1(yield_ * years)

    def _years_since(self, ts_ns: int) -> float:
        assert self._last_valued_ns is not None
        return max(ts_ns - self._last_valued_ns, 0) / NANOS_PER_YEAR
