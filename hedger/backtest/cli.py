"""`hedger backtest`: replay recordings or simulated markets through the engine with the
paper exchange's costs, compare hedging strategies, or price the cost of hedging by
Monte Carlo. Prints a table; `--json` and `--html` write the report to files.

    hedger backtest replay producers/data/demo_feed.jsonl --policy band=100 --policy band=1000
    hedger backtest simulate --preset crash-with-gap --paths 50 --html crash.html
    hedger backtest mc --spot 49 --strike 50 --rate 0.05 --drift 0.13 --vol 0.2 \\
        --maturity 0.3846 --quantity -100000 --rebalance 0.0192,0.0096 --json mc.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm

from hedger.backtest.compare import Comparison, compare
from hedger.backtest.montecarlo import OptionPosition, cost_of_hedging
from hedger.backtest.recorded import recorded_events, split_windows
from hedger.backtest.report_json import comparison_json, monte_carlo_json
from hedger.backtest.report_text import comparison_text, monte_carlo_text, windows_text
from hedger.backtest.runner import DEFAULT_SAMPLE_INTERVAL_NS, BacktestConfig
from hedger.backtest.settings_table import settings_rows
from hedger.backtest.strategies import (
    NO_HEDGE,
    STATIC_HEDGE,
    Strategy,
    configured_strategy,
    parse_duration_ns,
    parse_policy,
)
from hedger.backtest.trades import FILL_COLUMNS, ORDER_COLUMNS, fill_rows, order_rows, write_csv
from hedger.config import Settings
from hedger.core.events import Event
from producers.execution import add_cost_arguments, cost_model
from producers.reading_args import add_reading_arguments, recordings
from producers.simulate import PRESETS, add_session_arguments, session_from, simulate_session

_NS_PER_S = 10**9
COST_DEFINITION = (
    "present value at the rate of every cash flow of the hedge (shares bought and sold, "
    "proportional costs, dividends received) and of the option's cash settlement at "
    "maturity; financing interest included"
)


def add_backtest_parser(commands: Any) -> None:
    """Register `hedger backtest` and its modes on the `hedger` subcommands."""
    backtest = commands.add_parser(
        "backtest", help="compare hedging strategies on recordings or simulations, or by MC"
    )
    modes = backtest.add_subparsers(dest="mode", required=True)
    replay = modes.add_parser("replay", help="strategies over recorded feeds")
    replay.add_argument(
        "files", type=Path, nargs="*", help="recordings, merged in event time (or -i FILE)"
    )
    add_reading_arguments(replay)
    replay.add_argument(
        "--windows",
        metavar="DURATION",
        help="split the recording into consecutive windows this long (e.g. 91d), each"
        " backtested on its own, from no position: results per window, statistics over them",
    )
    _add_comparison_arguments(replay)
    simulate = modes.add_parser("simulate", help="strategies over simulated markets")
    add_session_arguments(simulate)
    simulate.add_argument("--paths", type=int, default=20, help="simulated paths (default: 20)")
    simulate.add_argument("--seed", type=int, default=1)
    _add_comparison_arguments(simulate)
    _add_monte_carlo_arguments(
        modes.add_parser("mc", help="Monte Carlo cost of delta hedging one option position")
    )


def _add_comparison_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--policy",
        action="append",
        default=[],
        metavar="SPEC",
        help="a dynamic strategy, e.g. band=100,every=1h (repeatable; default: configured)",
    )
    parser.add_argument(
        "--sample-s",
        type=float,
        default=DEFAULT_SAMPLE_INTERVAL_NS / _NS_PER_S,
        help="valuation interval in event seconds (default: 300)",
    )
    parser.add_argument(
        "--timer-s", type=float, help="timer grid (default: HEDGER_TIMER_INTERVAL_MS, as live)"
    )
    add_cost_arguments(parser)
    _add_output_arguments(parser)
    parser.add_argument("--orders-csv", type=Path, help="write every hedge order here (CSV)")
    parser.add_argument("--fills-csv", type=Path, help="write every hedge fill here (CSV)")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", type=Path, help="write the report as JSON here")
    parser.add_argument("--html", type=Path, help="write a self-contained HTML report here")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _add_monte_carlo_arguments(parser: argparse.ArgumentParser) -> None:
    for flag, default, meaning in (
        ("--spot", 100.0, "spot price"),
        ("--strike", 100.0, "strike"),
        ("--rate", 0.0, "risk-free rate, continuously compounded"),
        ("--dividend-yield", 0.0, "dividend yield, continuously compounded"),
        ("--drift", 0.0, "expected growth rate of the price"),
        ("--vol", 0.2, "volatility, annual"),
        ("--maturity", 0.25, "years"),
        ("--quantity", -1.0, "options held; negative = short"),
        ("--multiplier", 1.0, "shares per option"),
        ("--cost-rate", 0.0, "proportional transaction cost (fraction of notional)"),
    ):
        parser.add_argument(flag, type=float, default=default, help=f"{meaning} ({default:g})")
    parser.add_argument("--put", action="store_true", help="a put (default: a call)")
    parser.add_argument(
        "--rebalance",
        default="0.0192,0.0096,0.0048",
        help="comma list of rebalancing intervals in years (default: 0.0192,0.0096,0.0048)",
    )
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    _add_output_arguments(parser)


def run_backtest(args: argparse.Namespace, settings: Settings) -> int:
    """Run the mode chosen on the command line; returns the exit status."""
    try:
        if args.mode == "mc":
            return _monte_carlo(args)
        return _comparison(args, settings)
    except ValueError as exc:
        print(f"hedger backtest: {exc}", file=sys.stderr)
        return 2


def _strategies(args: argparse.Namespace, settings: Settings) -> list[Strategy]:
    base = settings.engine_config().policy
    dynamic = [parse_policy(spec, base) for spec in args.policy] or [configured_strategy(base)]
    return [NO_HEDGE, STATIC_HEDGE, *dynamic]


def _comparison(args: argparse.Namespace, settings: Settings) -> int:
    engine = settings.engine_config()
    inputs: dict[str, str] = {}
    paths: Sequence[Sequence[Event]] | Iterator[Sequence[Event]]
    if args.mode == "replay":
        files, read_with, window = recordings(args, "hedger backtest", args.files)
        events = recorded_events(files, read_with, window)
        spans = split_windows(events, parse_duration_ns(args.windows)) if args.windows else []
        paths = [events[first:stop] for _, _, first, stop in spans] or [events]
        windows, path_count = [(start, end) for start, end, _, _ in spans], len(paths)
        inputs |= {"recordings": ", ".join(map(str, files)), "events": f"{len(events):,}"}
        if args.windows:
            inputs |= {"windows": f"{len(spans)} of {args.windows}"}
    else:
        session = session_from(args)
        if args.rate is not None:
            engine = dataclasses.replace(engine, rate=args.rate)
        paths = (
            simulate_session(PRESETS[args.preset], session, args.seed, path)
            for path in range(args.paths)
        )
        inputs |= {"preset": args.preset, "paths": str(args.paths), "seed": str(args.seed)}
        windows, path_count = [], args.paths
        inputs |= {"session": _describe(session)}
    config = BacktestConfig(
        engine=engine,
        costs=cost_model(args),
        sample_interval_ns=round(args.sample_s * _NS_PER_S),
        timer_interval_ns=None if args.timer_s is None else round(args.timer_s * _NS_PER_S),
    )
    strategies = _strategies(args, settings)
    inputs |= {"costs": _describe(config.costs), "policies": ", ".join(s.name for s in strategies)}
    engine_settings = settings_rows(engine)
    runs = len(strategies) * path_count
    with tqdm(total=runs, unit="run", disable=args.no_progress or None, file=sys.stderr) as bar:
        comparison = compare(paths, strategies, config, bar.update)
    comparison.windows = windows
    print(comparison_text(comparison.summaries()))
    if comparison.windows:
        print(windows_text(comparison))
    _write_reports(args, inputs, engine_settings, comparison)
    return 0


def _describe(value: Any) -> str:
    fields = dataclasses.fields(value)
    return ", ".join(f"{f.name}={getattr(value, f.name)}" for f in fields)


def _write_reports(
    args: argparse.Namespace,
    inputs: dict[str, str],
    settings: list[tuple[str, str]],
    result: Comparison,
) -> None:
    if args.json is not None:
        document = comparison_json(inputs, result, settings)
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    if args.html is not None:
        # Imported here: matplotlib is slow to import and only the HTML report needs it.
        from hedger.backtest.report_html import comparison_html

        page = comparison_html("hedger backtest", inputs, result, settings)
        args.html.write_text(page, encoding="utf-8")
    if args.orders_csv is not None:
        write_csv(args.orders_csv, ORDER_COLUMNS, order_rows(result))
    if args.fills_csv is not None:
        write_csv(args.fills_csv, FILL_COLUMNS, fill_rows(result))


def _monte_carlo(args: argparse.Namespace) -> int:
    position = OptionPosition(
        spot=args.spot,
        strike=args.strike,
        maturity=args.maturity,
        vol=args.vol,
        rate=args.rate,
        dividend_yield=args.dividend_yield,
        drift=args.drift,
        quantity=args.quantity,
        multiplier=args.multiplier,
        is_call=not args.put,
    )
    intervals = [float(part) for part in args.rebalance.split(",") if part.strip()]
    if not intervals:
        raise ValueError("--rebalance needs at least one interval")
    results = []
    for interval in tqdm(intervals, unit="interval", disable=args.no_progress or None):
        results += cost_of_hedging(position, [interval], args.paths, args.seed, args.cost_rate)
    print(monte_carlo_text(results, position.price))
    inputs = dataclasses.asdict(position) | {"paths": args.paths, "seed": args.seed}
    inputs |= {"cost_rate": args.cost_rate}
    if args.json is not None:
        document = monte_carlo_json(inputs, position.price, COST_DEFINITION, results)
        args.json.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    if args.html is not None:
        from hedger.backtest.report_mc_html import monte_carlo_html  # slow import: only here

        shown = {key: str(value) for key, value in inputs.items()}
        value = abs(position.units * position.price)
        page = monte_carlo_html("hedger backtest mc", shown, results, value)
        args.html.write_text(page, encoding="utf-8")
    return 0
