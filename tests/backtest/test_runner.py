"""One strategy over one path: the engine's orders, the in-process exchange, the accounting."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hedger.backtest.runner import BacktestConfig, run_path
from hedger.backtest.strategies import NO_HEDGE, STATIC_HEDGE, parse_policy
from hedger.core.events import Event, FillReport, Side
from producers.execution import CostModel
from tests.backtest import scenario as sc

CONTRACTS = 50
UNITS = CONTRACTS * 100.0
MINUTE = 60


def walk(count: int, seed: int, step: float = 0.4) -> list[float]:
    moves = np.random.default_rng(seed).choice([-step, step], size=count)
    return (100.0 + np.cumsum(moves)).round(2).tolist()


def path(spots: list[float], every_s: int = MINUTE) -> list[Event]:
    """A vol, a tick at 100, the client buying calls, then a tick every `every_s`."""
    price = round(sc.call_value(1, 100.0), 2)
    events: list[Event] = [sc.vol(0), sc.tick(0, 100.0), sc.client_buys_calls(1, CONTRACTS, price)]
    events += [sc.tick(every_s * (i + 1), spot) for i, spot in enumerate(spots)]
    return events


def config(band: float = 200.0, costs: CostModel | None = None, **policy: object) -> BacktestConfig:
    return BacktestConfig(sc.engine_config(band, **policy), costs or CostModel())


def test_no_hedge_sends_nothing_and_pnl_is_the_options_marked_to_quantlib() -> None:
    spots = walk(120, seed=1)
    result = run_path(path(spots), NO_HEDGE, config())
    assert result.orders == []
    assert result.fills == 0
    end_s = MINUTE * len(spots)
    price = round(sc.call_value(1, 100.0), 2)
    years = (end_s - 0) / (365 * 86400)
    # Cash paid for the calls at second 1 earns the rate from the first valuation after it.
    cash = -UNITS * price
    expected = UNITS * sc.call_value(end_s, spots[-1]) + cash * math.exp(sc.RATE * years)
    assert result.final_pnl == pytest.approx(expected, rel=1e-4)


def test_static_hedges_each_client_trade_once_at_quantlib_delta() -> None:
    result = run_path(path(walk(120, seed=2)), STATIC_HEDGE, config())
    (order,) = result.orders
    assert order.side is Side.SELL
    assert order.qty == round(UNITS * sc.call_delta(1, 100.0))
    assert order.ts_ns == sc.T0 + sc.SECOND
    assert result.fills == 1


def test_dynamic_band_orders_match_a_quantlib_delta_hedger_step_by_step() -> None:
    band = 150.0
    spots = walk(200, seed=3)
    result = run_path(
        path(spots), parse_policy(f"band={band:g}", sc.engine_config().policy), config(band)
    )
    expected: list[tuple[int, str, float]] = []
    shares = 0.0
    moments = [(1, 100.0)] + [(MINUTE * (i + 1), s) for i, s in enumerate(spots)]
    for second, spot in moments:
        net = UNITS * sc.call_delta(second, spot) + shares
        if abs(net) > band:
            quantity = float(round(-net))
            shares += quantity
            expected.append((sc.T0 + second * sc.SECOND, Side.of(quantity).value, abs(quantity)))
    got = [(o.ts_ns, o.side.value, o.qty) for o in result.orders]
    assert got == expected
    assert len(got) > 10


def test_dynamic_costs_charged_by_the_paper_exchange_model() -> None:
    costs = CostModel(half_spread=0.02, commission_per_share=0.001, commission_per_order=1.5)
    strategy = parse_policy("band=150", sc.engine_config().policy)
    result = run_path(path(walk(100, seed=4)), strategy, config(150.0, costs))
    shares = sum(order.qty for order in result.orders)
    assert result.fees == pytest.approx(1.5 * len(result.orders) + 0.001 * shares)
    assert result.slippage == pytest.approx(0.02 * shares)
    assert result.attribution["costs"] == pytest.approx(-(result.fees + result.slippage))


def test_latency_fill_priced_at_mark_as_of_fill_time_including_a_tick_at_that_time() -> None:
    events = path([104.0, 104.0])  # the client trade at 1 s, then ticks at 60 s and 120 s
    strategy = parse_policy("band=150", sc.engine_config().policy)
    before_tick = run_path(events, strategy, config(150.0, CostModel(latency_ms=29_000)))
    at_tick = run_path(events, strategy, config(150.0, CostModel(latency_ms=59_000)))
    first, second = before_tick.orders[0], at_tick.orders[0]
    assert (first.order_id, first.side, first.ref_price) == (second.order_id, Side.SELL, 100.0)
    # Filled at 30 s: the mark is still 100. Filled at 60 s: the tick of 60 s (104) counts.
    assert before_tick.slippage == pytest.approx(0.0, abs=1e-9)
    assert at_tick.slippage == pytest.approx(-4.0 * second.qty)


def test_recorded_hedge_fills_of_an_earlier_run_are_dropped() -> None:
    events = path(walk(30, seed=5))
    stale = FillReport(
        "PX-H-9", "mm-1", "XYZ", Side.SELL, 2000, 100.0, sc.T0 + 2 * sc.SECOND, "H-9"
    )
    with_stale = [*events[:3], stale, *events[3:]]
    strategy = parse_policy("band=150", sc.engine_config().policy)
    clean = run_path(events, strategy, config(150.0))
    replayed = run_path(with_stale, strategy, config(150.0))
    assert [o.order_id for o in replayed.orders] == [o.order_id for o in clean.orders]
    assert replayed.final_pnl == pytest.approx(clean.final_pnl)


def test_timed_policy_rebalances_on_timers_only() -> None:
    # Ticks every 5 s: a timer fires before the tick that crosses it, so the mark it sees
    # must be within HEDGER_STALE_AFTER_MS (10 s), as live.
    spots = walk(4 * 720, seed=6, step=0.05)
    strategy = parse_policy("band=0,every=1h", sc.engine_config().policy)
    result = run_path(path(spots, every_s=5), strategy, config(0.0))
    assert result.orders
    assert all(order.trigger.startswith("timer:") for order in result.orders)
    hours = {order.ts_ns // (3600 * sc.SECOND) for order in result.orders}
    assert len(hours) == len(result.orders)  # at most one rebalance an hour
    assert len(result.orders) <= 5  # the first timer after the trade, then each hour's


def test_partial_fills_make_more_fills_than_orders_and_all_shares_arrive() -> None:
    costs = CostModel(max_slices=4, seed=2)
    strategy = parse_policy("band=150", sc.engine_config().policy)
    result = run_path(path(walk(100, seed=7)), strategy, config(150.0, costs))
    assert result.fills > len(result.orders)
    signed = sum(o.side.sign * o.qty for o in result.orders)
    final_delta = result.samples[-1].net_delta
    options_delta = UNITS * sc.call_delta(MINUTE * 100, walk(100, seed=7)[-1])
    assert final_delta - options_delta == pytest.approx(signed, abs=1e-6)


def test_backtest_config_sample_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="sample interval"):
        BacktestConfig(sc.engine_config(), sample_interval_ns=0)
