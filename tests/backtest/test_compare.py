"""The comparison statistics, on numbers worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from hedger.backtest.compare import compare, conditional_value_at_risk, max_drawdown, summarize
from hedger.backtest.runner import BacktestConfig, PathResult
from hedger.backtest.strategies import NO_HEDGE, STATIC_HEDGE, parse_policy
from hedger.core.pnl_attribution import Sample
from tests.backtest import scenario as sc


def result(name: str, pnl: list[float]) -> PathResult:
    samples = [Sample(i, value, 0.0) for i, value in enumerate(pnl)]
    attribution = dict.fromkeys(("delta", "gamma", "theta", "vega", "financing", "costs"), 0.0)
    return PathResult(name, samples, [], [], [], attribution | {"residual": 0.0}, {}, {})  # type: ignore[arg-type]


def test_max_drawdown_largest_fall_from_running_peak_counting_zero_start() -> None:
    assert max_drawdown(np.array([1.0, 3.0, 2.0, 5.0, 0.5, 4.0])) == pytest.approx(4.5)
    assert max_drawdown(np.array([-2.0, -1.0, -3.0])) == pytest.approx(3.0)
    assert max_drawdown(np.array([])) == 0.0


def test_cvar_mean_of_worst_five_percent_as_a_positive_loss() -> None:
    outcomes = np.arange(1.0, 101.0) - 50.0  # -49 ... 50
    assert conditional_value_at_risk(outcomes) == pytest.approx(47.0)  # mean of -49..-45
    assert conditional_value_at_risk(np.array([3.0, -2.0])) == pytest.approx(2.0)


def test_summarize_paths_basis_effectiveness_against_no_hedge_variance() -> None:
    unhedged = [result("no hedge", [0.0, v]) for v in (-10.0, 10.0, -10.0, 10.0)]
    hedged = [result("hedged", [0.0, v]) for v in (-1.0, 1.0, -1.0, 1.0)]
    baseline = np.array([-10.0, 10.0, -10.0, 10.0])
    summary = summarize(hedged, baseline)
    assert summary.basis == "paths"
    assert summary.pnl_std == pytest.approx(1.0)
    assert summary.effectiveness == pytest.approx(1 - 1 / 100)
    assert summarize(unhedged, baseline).effectiveness == pytest.approx(0.0)


def test_summarize_one_path_uses_changes_between_valuations() -> None:
    summary = summarize([result("x", [0.0, 2.0, 0.0, 2.0])], None)
    assert summary.basis == "intervals"
    assert summary.pnl_std == pytest.approx(np.std([2.0, -2.0, 2.0]))
    assert summary.effectiveness is None
    assert summary.final_pnl == 2.0


def test_compare_runs_every_strategy_on_every_path_and_names_must_differ() -> None:
    events = [sc.vol(0), sc.tick(0, 100.0), sc.client_buys_calls(1, 10, 3.0), sc.tick(60, 101.0)]
    config = BacktestConfig(sc.engine_config())
    runs: list[int] = []
    strategies = [NO_HEDGE, STATIC_HEDGE, parse_policy("band=50", sc.engine_config().policy)]
    comparison = compare([events, events], strategies, config, runs.append)
    assert len(runs) == 6
    assert {name: len(r) for name, r in comparison.results.items()} == {
        "no hedge": 2,
        "static": 2,
        "band 50": 2,
    }
    assert [s.strategy for s in comparison.summaries()] == ["no hedge", "static", "band 50"]
    with pytest.raises(ValueError, match="must differ"):
        compare([events], [NO_HEDGE, NO_HEDGE], config)
