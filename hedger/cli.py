"""`hedger` command line: `run` (the service), `demo` (everything on a local broker),
`backtest` (strategies over recordings and simulations, no Kafka), `risk`, `kafka` (a local
Apache Kafka) and `topics` (create or check the service's topics). How each ends on an
error or Ctrl-C: `hedger.console`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from importlib import metadata
from pathlib import Path

from hedger.backtest.cli import add_backtest_parser, run_backtest
from hedger.config import ConfigError, Settings, settings_table
from hedger.config_check import unknown_variables
from hedger.console import CONVENTIONS, add_debug_argument, run_command, until_signalled
from hedger.kafka_cli import add_kafka_parser, run_kafka
from hedger.log_flood import RepeatLimiter
from hedger.risk_report import add_risk_parser, run_risk
from hedger.topics_cli import add_topics_parser, run_topics

log = logging.getLogger("hedger")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return run_command(
        f"hedger {args.command}",
        lambda: _dispatch(args),
        debug=args.debug,
        bootstrap=args.bootstrap,
    )


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "kafka":  # needs no settings: it is the broker they point at
        return run_kafka(args)
    try:
        settings = Settings.from_env(os.environ)
        if args.command in ("run", "topics"):
            settings.require_bootstrap()
    except ConfigError as error:
        print(f"hedger: {error}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)
    for line in unknown_variables(os.environ):
        log.warning(line)
    return _subcommand(args, settings)


def _subcommand(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "backtest":
        return run_backtest(args, settings)
    if args.command == "risk":
        return run_risk(args, settings)
    if args.command == "topics":
        return run_topics(args, settings)
    if args.command == "run":
        return asyncio.run(_run(settings))
    from hedger.demo import DemoOptions, run_demo

    options = DemoOptions(feed=args.feed, speed=args.speed, keep_running=args.keep_running)
    return asyncio.run(run_demo(settings, options))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hedger", description=__doc__.partition("\n\n")[0], epilog=CONVENTIONS
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    add_debug_argument(parser)
    # Only `hedger risk` takes --bootstrap: the others' errors name no broker of it.
    parser.set_defaults(bootstrap=None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "run",
        help="run the hedger service (configured by HEDGER_* variables)",
        description="Run the hedger service. It takes no options: every setting is an\n"
        "environment variable, listed below with its default.",
        epilog=settings_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo = commands.add_parser(
        "demo", help="start a local broker, replay the bundled feed, hedge it, print a summary"
    )
    demo.add_argument("--feed", type=Path, default=None, help="JSONL recording to replay")
    demo.add_argument(
        "--speed", type=float, default=0.0, help="replay speed factor; 0 = as fast as possible"
    )
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="keep serving /metrics and the broker (its address printed) until Ctrl-C",
    )
    add_backtest_parser(commands)
    add_risk_parser(commands)
    add_kafka_parser(commands)
    add_topics_parser(commands)
    _debug_after_subcommands(parser)
    return parser


def settings_help() -> str:
    """Every setting with its default and meaning: the README's Configuration tables come
    from the same `settings_table()`, so the two cannot drift."""
    lines = ["settings (environment variables, default in brackets):"]
    for variable, default, meaning in settings_table():
        lines += [f"  {variable} [{default or 'none'}]", f"      {meaning}"]
    return "\n".join(lines)


def _debug_after_subcommands(parser: argparse.ArgumentParser) -> None:
    """`--debug` after a subcommand too (`hedger risk feed.jsonl --debug`). Absent there,
    it leaves the value given before the subcommand alone."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in {id(p): p for p in action.choices.values()}.values():
                add_debug_argument(subparser, default=argparse.SUPPRESS)
                _debug_after_subcommands(subparser)


def _version() -> str:
    try:
        return metadata.version("hedger")
    except metadata.PackageNotFoundError:  # run from a source tree, not installed
        return "(not installed)"


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiokafka logs every routine group rebalance at INFO, and floods while the broker
    # is gone: one line per message kind every 10 s.
    logging.getLogger("aiokafka").setLevel(max(logging.WARNING, logging.getLogger().level))
    for handler in logging.getLogger().handlers:
        handler.addFilter(RepeatLimiter("aiokafka"))


async def _run(settings: Settings) -> int:
    from hedger.runtime import HedgerService
    from hedger.startup import StartupError
    from hedger.warm_start import warm_start

    warm_start()
    stop = until_signalled()
    service = HedgerService(settings)
    task = asyncio.create_task(service.run(stop))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    # The service's own errors (a delivery timeout among them) are told apart from this
    # deadline: the exit line names the real cause.
    await asyncio.wait({task}, timeout=settings.shutdown_timeout_s)
    if not task.done():
        log.error("did not stop within %.1f s of the stop request", settings.shutdown_timeout_s)
        return 1
    error = task.exception()
    if isinstance(error, StartupError):
        print(f"hedger: {error}", file=sys.stderr)
        return 2
    if error is not None:
        # One line at the default level; the traceback for whoever asks (HEDGER_LOG_LEVEL).
        log.error("stopped on an error: %s: %s", type(error).__name__, error)
        log.debug("the error's traceback", exc_info=error)
        return 1
    log.info("stopped")
    return stop.exit_status


if __name__ == "__main__":
    sys.exit(main())
