"""One strategy over one path: the engine and the in-process paper exchange.

The same `HedgeEngine` as `hedger run` handles the path's events in order, through the same
driver (`hedger.core.driver`: timers before the input that crosses them, on the grid
`EngineConfig.timer_interval_ns` from HEDGER_TIMER_INTERVAL_MS as live, and runs of ticks in
one pass, ended before the next exchange fill is due). Its orders are filled by the paper
exchange's cost model (`producers.execution`) in process: each planned fill is due at its
time and handed to the engine, like a fill read back from Kafka, before any recorded event
of a later time, and before a recorded event of the same time (the live service's merge
takes fills first on equal times). A fill is priced at the mark as of its time, a tick at
that very time included, as the live paper exchange does.

Recorded fills that carry an `order_id` are fills of some earlier run's hedge orders: they
are dropped, since the backtest makes its own. Every other recorded fill is a client trade.

The P&L series and its attribution are the engine's own (`hedger.core.pnl_attribution`,
valued every `sample_interval_ns` of event time): the backtest keeps no second valuation, so
its P&L is the live service's for the same inputs. Each hedge fill's slippage against its
order's arrival mark is counted here, for shares and options alike.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from hedger.backtest.strategies import STATIC, Strategy, engine_config_for
from hedger.core.actions import (
    Action,
    CancelHedgeOrder,
    HedgeDenied,
    LatchBook,
    SubmitHedgeOrder,
)
from hedger.core.controls import OrderCheck, limit_refusal
from hedger.core.driver import EventDriver, TimerStep
from hedger.core.engine import EngineConfig, HedgeEngine
from hedger.core.events import (
    Event,
    FillReport,
    HedgeOrderRecorded,
    PriceTick,
    RecoveryCompleted,
    Side,
)
from hedger.core.instruments import OptionContract, parse_instrument
from hedger.core.pnl_attribution import Sample
from producers.execution import CostModel, Order, PlannedFill, plan_fills, price_fill

DEFAULT_SAMPLE_INTERVAL_NS = 300 * 10**9


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """The engine's configuration (its policy is the strategy's), the exchange's costs, how
    often the engine values the portfolio (its P&L series), and the grid of timer events
    (event-time nanoseconds; 0 = no timers, None = the engine configuration's, as live)."""

    engine: EngineConfig
    costs: CostModel = field(default_factory=CostModel)
    sample_interval_ns: int = DEFAULT_SAMPLE_INTERVAL_NS
    timer_interval_ns: int | None = None

    def __post_init__(self) -> None:
        if self.sample_interval_ns <= 0 or (self.timer_interval_ns or 0) < 0:
            raise ValueError("the sample interval must be positive, the timer's not negative")


# How many occurrences of each refusal reason a result keeps, the first ones.
FIRST_REFUSALS = 3


@dataclass(frozen=True, slots=True)
class Refused:
    """One refusal of a run: when, of what, and why."""

    ts_ns: int
    book: str
    symbol: str
    detail: str


@dataclass(slots=True)
class PathResult:
    """What one strategy did on one path."""

    strategy: str
    samples: list[Sample]
    orders: list[SubmitHedgeOrder]
    hedge_fills: list[FillReport]  # every fill of `orders`, in the order they came
    # Each fill's slippage over its order's arrival mark, cost positive: side sign × shares
    # (contracts × multiplier for an option) × (price − the order's `ref_price`).
    fill_slippage: list[float]
    attribution: dict[str, float]
    refusals: Counter[str]
    first_refusals: dict[str, list[Refused]]
    # Every order and cancel sent, in the order sent (a cancel only drops fills still due).
    sent: list[SubmitHedgeOrder | CancelHedgeOrder] = field(default_factory=list)

    @property
    def fills(self) -> int:
        return len(self.hedge_fills)

    @property
    def fees(self) -> float:
        return sum(fill.fee or 0.0 for fill in self.hedge_fills)

    @property
    def slippage(self) -> float:
        return sum(self.fill_slippage)

    @property
    def final_pnl(self) -> float:
        return self.samples[-1].pnl if self.samples else 0.0


@dataclass(order=True, slots=True)
class _Due:
    ts_ns: int
    sequence: int
    planned: PlannedFill = field(compare=False)
    order: Order = field(compare=False)


class PathRun:
    """The state of one run; `run_path` drives it."""

    def __init__(self, strategy: Strategy, config: BacktestConfig) -> None:
        self.strategy = strategy
        self.config = config
        engine_config = engine_config_for(strategy, config.engine)
        pnl_grid = dataclasses.replace(engine_config, pnl_interval_ns=config.sample_interval_ns)
        self.engine = HedgeEngine(pnl_grid)
        self.engine.pnl.series = []
        self.orders: list[SubmitHedgeOrder] = []
        self.sent: list[SubmitHedgeOrder | CancelHedgeOrder] = []
        self.refusals: Counter[str] = Counter()
        self.first_refusals: dict[str, list[Refused]] = {}
        self.hedge_fills: list[FillReport] = []
        self.fill_slippage: list[float] = []
        self._due: list[_Due] = []
        self._sequence = itertools.count()
        self._ref_prices: dict[str, float] = {}
        self._cancelled: set[str] = set()
        self._started = False
        timer_ns = config.timer_interval_ns
        timer_ns = engine_config.timer_interval_ns if timer_ns is None else timer_ns
        self._driver = EventDriver(self.engine, timer_ns)

    def run(self, events: Iterable[Event]) -> PathResult:
        engine, due, driver = self.engine, self._due, self._driver
        events = events if isinstance(events, list) else list(events)
        index = last_ns = 0
        while index < len(events):
            event = events[index]
            ts_ns = event.ts_ns
            if not self._started:
                engine.handle(RecoveryCompleted(ts_ns))
                self._started = True
            while due and due[0].ts_ns <= ts_ns:
                self._fill(heapq.heappop(due), event if isinstance(event, PriceTick) else None)
            if isinstance(event, FillReport) and event.order_id is not None:
                # An earlier run's hedge fill: the backtest makes its own. Its time still
                # moves the clock, as every recorded input's does live.
                self._act_timer(driver.fire_timer(ts_ns))
                index, last_ns = index + 1, ts_ns
                continue
            step = driver.step(events, index, due[0].ts_ns if due else math.inf)
            self._act_timer(step.timer)
            last_ns = events[step.end - 1].ts_ns
            self._act(step.actions, last_ns)
            if isinstance(event, FillReport) and self.strategy.kind == STATIC:
                self._hedge_once(event)
            index = step.end
        while due:
            entry = heapq.heappop(due)
            self._fill(entry, None)
            last_ns = max(last_ns, entry.ts_ns)
        return self._result(last_ns)

    def _act_timer(self, timer: TimerStep | None) -> None:
        if timer is not None:
            self._act(timer.actions, timer.ts_ns)

    def _act(self, actions: Iterable[Action], ts_ns: int) -> None:
        """Take the engine's `actions` on an event at `ts_ns`: send, cancel or count."""
        for action in actions:
            if isinstance(action, SubmitHedgeOrder):
                self._send(action)
            elif isinstance(action, CancelHedgeOrder):
                self.sent.append(action)
                self._cancelled.add(action.order_id)
            elif isinstance(action, HedgeDenied):
                seen = Refused(action.ts_ns, action.book, action.symbol, action.detail)
                self._refused(action.reason, seen)
            elif isinstance(action, LatchBook):
                self._refused("LatchBook", Refused(action.ts_ns, action.book, "", action.detail))
            else:  # an input the engine cannot use
                seen = Refused(ts_ns, "", "", f"{action.kind}: {action.detail}")
                self._refused("InputRejected", seen)

    def _refused(self, reason: str, seen: Refused) -> None:
        self.refusals[reason] += 1
        first = self.first_refusals.setdefault(reason, [])
        if len(first) < FIRST_REFUSALS:
            first.append(seen)

    def _send(self, order: SubmitHedgeOrder) -> None:
        self.orders.append(order)
        self.sent.append(order)
        self._ref_prices[order.order_id] = order.ref_price
        for planned in plan_fills(order, self.config.costs):
            heapq.heappush(self._due, _Due(planned.ts_ns, next(self._sequence), planned, order))

    def _fill(self, entry: _Due, tick: PriceTick | None) -> None:
        """Fill one planned fill; `tick` is the next recorded tick, which prices the fill
        when it is of the same symbol and time (the mark as of the fill's time)."""
        order = entry.order
        if order.order_id in self._cancelled:
            return
        self._act_timer(self._driver.fire_timer(entry.ts_ns))
        mark = self._mark(order.symbol)
        if tick is not None and (tick.symbol, tick.ts_ns) == (order.symbol, entry.ts_ns):
            mark = tick.mark
        try:
            fill = price_fill(order, entry.planned, mark, self.config.costs)
        except ValueError as error:
            seen = Refused(entry.ts_ns, order.book, order.symbol, f"{order.order_id}: {error}")
            self._refused("unfillable", seen)
            return
        self.hedge_fills.append(fill)
        self.fill_slippage.append(self._slippage(fill, self._ref_prices[order.order_id]))
        self._act(self._driver.step([fill], 0).actions, fill.ts_ns)

    def _hedge_once(self, trade: FillReport) -> None:
        """The static strategy: bring this book's net delta back to target, once."""
        instrument = parse_instrument(trade.instrument, trade.ts_ns)
        symbol = instrument if isinstance(instrument, str) else instrument.root
        mark = self._mark(symbol)
        exposure = next(
            (e for e in self.engine.exposures() if (e.book, e.underlying) == (trade.book, symbol)),
            None,
        )
        if exposure is None or mark is None:
            return
        policy = self.config.engine.policy
        net = exposure.delta + exposure.working_shares
        quantity = round((policy.target_delta - net) / policy.lot_size) * policy.lot_size
        if quantity == 0:
            return
        # Held to the book's limits as the engine's orders are: a comparison in which
        # only one strategy may send a 12M order while the limit is 10M compares nothing.
        setup = self.engine.desk.setup(trade.book)
        position = exposure.shares + exposure.working_shares
        pnl = self.engine.desk.book_pnl(trade.book, setup)
        check = OrderCheck(trade.book, symbol, quantity, mark, net, position, pnl)
        refusal = limit_refusal(check, setup.limits)
        if refusal is not None:
            self._refused(refusal[0], Refused(trade.ts_ns, trade.book, symbol, refusal[1]))
            return
        order_id = f"S-{trade.book}-{symbol}-{trade.fill_id}"
        side = Side.of(quantity)
        recorded = HedgeOrderRecorded(
            order_id, trade.book, symbol, side, abs(quantity), trade.ts_ns, mark
        )
        self.engine.handle(recorded)  # so the engine counts it as working until it fills
        self._send(_as_submitted(recorded, policy.target_delta, net))

    def _slippage(self, fill: FillReport, ref_price: float) -> float:
        instrument = parse_instrument(fill.instrument, fill.ts_ns)
        units = fill.side.sign * fill.qty
        if isinstance(instrument, OptionContract):  # a gamma/vega hedge
            units *= fill.multiplier or self.config.engine.default_multiplier
        return units * (fill.price - ref_price)

    def _mark(self, symbol: str) -> float | None:
        tick = self.engine.market.ticks.get(symbol)
        return None if tick is None else tick.mark

    def _result(self, last_ns: int) -> PathResult:
        pnl = self.engine.pnl
        samples = pnl.series if pnl.series is not None else []
        final = pnl.total(last_ns)
        if samples and samples[-1].ts_ns == last_ns:
            samples[-1] = final  # trades at the last moment: the later value counts
        else:
            samples.append(final)
        return PathResult(
            strategy=self.strategy.name,
            samples=samples,
            orders=self.orders,
            hedge_fills=self.hedge_fills,
            fill_slippage=self.fill_slippage,
            attribution=pnl.attribution(last_ns),
            refusals=self.refusals,
            first_refusals=self.first_refusals,
            sent=self.sent,
        )


def _as_submitted(order: HedgeOrderRecorded, target: float, net: float) -> SubmitHedgeOrder:
    return SubmitHedgeOrder(
        order_id=order.order_id,
        book=order.book,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        ts_ns=order.ts_ns,
        ref_price=order.ref_price,
        reason="static",
        delta_before=net,
        target_delta=target,
        policy=STATIC,
        trigger=f"static:{order.order_id}",
    )


def run_path(events: Iterable[Event], strategy: Strategy, config: BacktestConfig) -> PathResult:
    """Run `strategy` over one path of events (in event-time order)."""
    return PathRun(strategy, config).run(events)
