"""Accounting for one strategy on one path: positions, cash, P&L and its attribution.

The portfolio is every book's options (valued at Black-Scholes with the engine's rate,
dividend yield, flat vol and expiry convention), shares at the mark, and cash. Options
settle at expiry as the engine settles them: physically, at the expiry close's price (an
in-the-money call becomes shares bought at the strike, a put shares sold at it). It starts
empty, so P&L(t) = value(t). Client trades pay their price in cash; hedge fills pay price ×
shares plus the fee. Between valuations, cash earns the rate and shares earn the dividend
yield (continuously compounded), credited at each valuation.

Valuations happen every `sample_interval_ns` of event time, at the end, and just after each
client trade (so a new position's Greeks count from its first moment; its edge over model
value is a jump with no Greek to explain it). Each step from one valuation to the next is
attributed with the options' Greeks at its start:

| term | amount |
|---|---|
| delta | options' delta × ΔS, plus the shares' exact P&L (shares × mark moves, piecewise) |
| gamma | ½ × options' gamma × ΔS² |
| theta | options' theta × calendar days |
| vega | options' vega × Δσ in vol points |
| financing | interest on cash and dividends on shares |
| costs | fees + (fill price − mark at the fill) × signed shares |
| residual | the rest: higher-order terms and client trades' edge over model value |
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import numpy as np

from hedger.core.engine import EngineConfig
from hedger.core.events import FillReport, PriceTick, VolUpdate
from hedger.core.greeks import black_scholes
from hedger.core.instruments import (
    NANOS_PER_YEAR,
    OptionContract,
    expiry_instant_ns,
    year_fractions,
)

ATTRIBUTION_TERMS = ("delta", "gamma", "theta", "vega", "financing", "costs", "residual")
_NS_PER_DAY = 86_400 * 10**9


@dataclass(slots=True)
class _Underlying:
    """Positions and market of one underlying, with the state at the last valuation."""

    strikes: list[float] = field(default_factory=list)
    expiries_ns: list[int] = field(default_factory=list)
    calls: list[bool] = field(default_factory=list)
    units: list[float] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    shares: float = 0.0
    mark: float | None = None
    vol: float | None = None
    share_anchor: float | None = None  # the mark the shares' P&L is counted from
    shares_pnl: float = 0.0  # the shares' P&L since the last valuation
    last: _Valuation | None = None


@dataclass(frozen=True, slots=True)
class _Valuation:
    ts_ns: int
    spot: float
    vol: float
    options_value: float
    delta: float
    gamma: float
    vega: float
    theta: float


@dataclass(slots=True)
class Sample:
    """The portfolio at one valuation: P&L so far and net delta (shares), all underlyings."""

    ts_ns: int
    pnl: float
    net_delta: float


class Ledger:
    """See the module docstring. Feed it every tick, vol and fill of the path in order."""

    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.cash = 0.0
        self.fees = 0.0
        self.slippage = 0.0
        self.attribution = dict.fromkeys(ATTRIBUTION_TERMS, 0.0)
        self.samples: list[Sample] = []
        self._underlyings: dict[str, _Underlying] = {}
        self._zone = ZoneInfo(config.expiry_timezone)
        self._last_valued_ns: int | None = None

    def _underlying(self, symbol: str) -> _Underlying:
        found = self._underlyings.get(symbol)
        if found is None:
            found = self._underlyings[symbol] = _Underlying()
        return found

    def mark(self, symbol: str) -> float | None:
        held = self._underlyings.get(symbol)
        return None if held is None else held.mark

    def on_tick(self, tick: PriceTick) -> None:
        """A new mark. Options that expired before it settle at the mark before it; those
        expiring at its very instant (the expiry close), at its own price: as the engine
        settles them (`hedger.core.revaluation`)."""
        held = self._underlying(tick.symbol)
        if held.mark is not None:
            self._settle_expired(held, tick.ts_ns - 1, held.mark)
        held.mark = tick.mark
        self._settle_expired(held, tick.ts_ns, tick.mark)

    def _settle_expired(self, held: _Underlying, by_ns: int, spot: float) -> None:
        """Rows expired by `by_ns` leave the book, physically settled at `spot`: an
        in-the-money call becomes +units shares bought at the strike, a put −units sold
        at the strike; the rest lapses. The value does not jump: units × intrinsic before,
        the same in shares and cash after."""
        expired = [row for row, expiry in enumerate(held.expiries_ns) if expiry <= by_ns]
        if not expired:
            return
        self._settle_shares(held, spot)
        for row in expired:
            strike, units = held.strikes[row], held.units[row]
            in_the_money = spot > strike if held.calls[row] else spot < strike
            delivered = (units if held.calls[row] else -units) if in_the_money else 0.0
            held.shares += delivered
            self.cash -= delivered * strike
        kept = [row for row in range(len(held.units)) if row not in expired]
        held.strikes = [held.strikes[row] for row in kept]
        held.expiries_ns = [held.expiries_ns[row] for row in kept]
        held.calls = [held.calls[row] for row in kept]
        held.units = [held.units[row] for row in kept]
        held.rows = {symbol: kept.index(row) for symbol, row in held.rows.items() if row in kept}

    def on_vol(self, update: VolUpdate) -> None:
        # Surface points are not priced by the engine either.
        if update.expiry is None and update.strike is None:
            self._underlying(update.symbol).vol = update.vol

    def on_option_trade(
        self, fill: FillReport, contract: OptionContract, ref_price: float | None = None
    ) -> None:
        """An option trade (the side is the book's): a client's, or the fill of one of our
        option hedge orders, which passes the order's `ref_price` so its fee and slippage
        are counted (its edge over model value stays in the residual)."""
        held = self._underlying(contract.root)
        units = fill.side.sign * fill.qty * (fill.multiplier or self.config.default_multiplier)
        row = held.rows.get(contract.occ_symbol)
        if row is None:
            held.rows[contract.occ_symbol] = len(held.units)
            held.strikes.append(contract.strike)
            held.expiries_ns.append(
                expiry_instant_ns(contract.expiry, self.config.expiry_time, self._zone)
            )
            held.calls.append(contract.is_call)
            held.units.append(units)
        else:
            held.units[row] += units
        fee = fill.fee or 0.0
        self.cash -= units * fill.price + fee
        if ref_price is not None:
            self.fees += fee
            self.slippage += units * (fill.price - ref_price)
            self.attribution["costs"] -= fee

    def on_share_trade(self, fill: FillReport, ref_price: float | None = None) -> None:
        """Shares bought or sold; a hedge fill passes its order's `ref_price` (the arrival
        mark) so its slippage is counted."""
        held = self._underlying(fill.instrument)
        signed = fill.side.sign * fill.qty
        fee = fill.fee or 0.0
        mark = held.mark if held.mark is not None else fill.price
        self._settle_shares(held, mark)
        held.shares += signed
        self.cash -= signed * fill.price + fee
        self.attribution["costs"] -= signed * (fill.price - mark) + fee
        if ref_price is not None:
            self.fees += fee
            self.slippage += signed * (fill.price - ref_price)

    def _settle_shares(self, held: _Underlying, mark: float) -> None:
        if held.share_anchor is not None:
            held.shares_pnl += held.shares * (mark - held.share_anchor)
        held.share_anchor = mark

    def value(self, ts_ns: int, record: bool = True) -> Sample:
        """Value the portfolio at `ts_ns` and attribute the step since the last valuation;
        `record` keeps the sample in `samples` (the P&L series)."""
        self._accrue(ts_ns)
        total, net_delta = self.cash, 0.0
        for held in self._underlyings.values():
            if held.mark is None:
                continue
            valuation = self._valuation(held, ts_ns)
            self._attribute(held, valuation)
            total += valuation.options_value + held.shares * held.mark
            net_delta += valuation.delta + held.shares
        sample = Sample(ts_ns, total, net_delta)
        if record:
            self.samples.append(sample)
        self._last_valued_ns = ts_ns
        return sample

    def _valuation(self, held: _Underlying, ts_ns: int) -> _Valuation:
        mark = held.mark if held.mark is not None else math.nan
        vol = held.vol if held.vol is not None else self.config.default_vol
        if not held.units:
            return _Valuation(ts_ns, mark, vol, 0.0, 0.0, 0.0, 0.0, 0.0)
        units = np.asarray(held.units)
        greeks = black_scholes(
            mark,
            np.asarray(held.strikes),
            year_fractions(ts_ns, np.asarray(held.expiries_ns, dtype=np.int64)),
            vol,
            self.config.rate,
            self.config.dividend_yield,
            np.asarray(held.calls),
        )
        return _Valuation(
            ts_ns,
            mark,
            vol,
            float(units @ greeks.price),
            float(units @ greeks.delta),
            float(units @ greeks.gamma),
            float(units @ greeks.vega),
            float(units @ greeks.theta),
        )

    def _attribute(self, held: _Underlying, now: _Valuation) -> None:
        self._settle_shares(held, now.spot)
        self.attribution["delta"] += held.shares_pnl
        held.shares_pnl = 0.0
        before = held.last
        if before is not None:
            move = now.spot - before.spot
            self.attribution["delta"] += before.delta * move
            self.attribution["gamma"] += 0.5 * before.gamma * move * move
            self.attribution["theta"] += before.theta * (now.ts_ns - before.ts_ns) / _NS_PER_DAY
            self.attribution["vega"] += before.vega * (now.vol - before.vol) * 100.0
        held.last = now

    def _accrue(self, ts_ns: int) -> None:
        if self._last_valued_ns is None:
            return
        years = (ts_ns - self._last_valued_ns) / NANOS_PER_YEAR
        interest = self.cash * math.expm1(self.config.rate * years)
        dividends = sum(
            held.shares * held.mark * math.expm1(self.config.dividend_yield * years)
            for held in self._underlyings.values()
            if held.mark is not None
        )
        self.cash += interest + dividends
        self.attribution["financing"] += interest + dividends

    def finish(self, ts_ns: int) -> None:
        """Value at the end and put what the terms do not explain into `residual`."""
        final = self.value(ts_ns, record=False)
        if self.samples and self.samples[-1].ts_ns == ts_ns:
            self.samples[-1] = final  # trades at the last moment: the later value counts
        else:
            self.samples.append(final)
        explained = sum(v for k, v in self.attribution.items() if k != "residual")
        self.attribution["residual"] = self.samples[-1].pnl - explained
