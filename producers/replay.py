"""Replay recorded feeds to Kafka, paced by event time: CSV, JSONL or Parquet, prices or fills.

Wire-format JSONL lines are forwarded byte for byte (never re-encoded); vendor files are
converted with a column mapping and a timestamp unit and zone (`producers.recording`).
Ticks, vols and option quotes go to the prices topic keyed by symbol, fills to the fills
topic keyed by book (`producers.routing`). Several files (say a prices file and a fills
file) are merged in event-time order; each must be in event-time order itself. `--start`
and `--end` keep the messages with start <= ts < end. Messages the codec refuses are
reported on stderr with their file and line and skipped, unless `--include-invalid`
forwards them to exercise the hedger's dead-letter path.

Pacing by event time with a speed factor, scheduled against absolute times so it does not
drift (`producers.publish`): `--speed 1` is real time, 60 plays a minute in a second, 0 as
fast as possible. A progress bar shows on a terminal. Ctrl-C stops it with a line saying
what was sent, and exit status 130; an error with one line (`--debug`: its traceback).

    python -m producers.replay producers/data/demo_feed.jsonl --bootstrap HOST:PORT --speed 60
    python -m producers.replay --map symbol=ric --map ts=time --ts-unit ms \\
        --timezone America/New_York -i quotes.csv fills.jsonl --start 2026-11-20T09:30 --speed 0

Reading options apply to every named file, or to the one `-i FILE` after them
(`producers.reading_args`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import orjson
from tqdm import tqdm

from hedger.console import add_debug_argument, run_command
from producers.publish import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_DELIVER_TIMEOUT_S,
    Progress,
    PublishOptions,
    ReplayStats,
    publish_chunks,
    report_to_stderr,
)
from producers.reading_args import add_reading_arguments, recordings
from producers.recording import ReadOptions, count_rows, read_chunks
from producers.routing import (
    DEFAULT_FILLS_TOPIC,
    DEFAULT_PRICES_TOPIC,
    ReplayTopics,
    RoutedChunk,
    RoutedLine,
    TimeWindow,
    merge_by_time,
    route_chunks,
    within,
)

BOOTSTRAP_ENV = "HEDGER_KAFKA_BOOTSTRAP"


# One ReadOptions for every file, or one per file (in the order of the paths).
ReadWith = ReadOptions | Sequence[ReadOptions] | None


def recorded_lines(
    paths: Sequence[Path],
    topics: ReplayTopics,
    read_options: ReadWith = None,
    window: TimeWindow | None = None,
) -> Iterator[RoutedLine]:
    """The routed messages of every recording, merged in event time and windowed."""
    chunks = recorded_chunks(paths, topics, read_options, window)
    return (line for chunk in chunks for line in chunk.lines())


def recorded_chunks(
    paths: Sequence[Path],
    topics: ReplayTopics,
    read_options: ReadWith = None,
    window: TimeWindow | None = None,
) -> Iterator[RoutedChunk]:
    """`recorded_lines`, a chunk at a time. Every file's format is checked at once."""
    window = window or TimeWindow()
    per_file = read_options if isinstance(read_options, Sequence) else [read_options] * len(paths)
    streams = [
        route_chunks(read_chunks(path, options), topics, str(path))
        for path, options in zip(paths, per_file, strict=True)
    ]
    merged = merge_by_time(streams)
    if window.start_ns is None and window.end_ns is None:
        return merged
    return within(merged, window.start_ns, window.end_ns)


async def replay(
    path: str | Path | Sequence[str | Path],
    bootstrap: str,
    *,
    speed: float = 1.0,
    prices_topic: str = DEFAULT_PRICES_TOPIC,
    fills_topic: str = DEFAULT_FILLS_TOPIC,
    include_invalid: bool = False,
    batch_size: int = DEFAULT_BATCH_SIZE,
    deliver_timeout_s: float = DEFAULT_DELIVER_TIMEOUT_S,
    read_options: ReadWith = None,
    window: TimeWindow | None = None,
    report: Callable[[str], None] = report_to_stderr,
    progress: Progress | None = None,
    stats: ReplayStats | None = None,
) -> ReplayStats:
    """Send the recording(s) at `path` to the broker at `bootstrap`; return what was sent
    (counted in `stats`, when given, as it goes).

    The files are opened before connecting, so a wrong path fails fast.
    """
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    for source in paths:
        if not source.is_file():
            raise FileNotFoundError(f"no recording at {source}")
    chunks = recorded_chunks(paths, ReplayTopics(prices_topic, fills_topic), read_options, window)
    options = PublishOptions(speed, include_invalid, max(1, batch_size), deliver_timeout_s)
    return await publish_chunks(
        chunks,
        bootstrap,
        options,
        client_id="hedger-replay",
        report=report,
        progress=progress,
        stats=stats,
    )


def _bootstrap(value: str | None) -> str:
    bootstrap = value or os.environ.get(BOOTSTRAP_ENV, "").strip()
    if not bootstrap:
        raise SystemExit(f"replay: no broker given; pass --bootstrap or set {BOOTSTRAP_ENV}")
    return bootstrap


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m producers.replay",
        description="Replay recorded feeds (JSONL, CSV, Parquet) to Kafka, paced by event time.",
    )
    parser.add_argument(
        "files", type=Path, nargs="*", help="recordings, merged in event time (or -i FILE)"
    )
    parser.add_argument("--bootstrap", help=f"Kafka bootstrap servers (default: ${BOOTSTRAP_ENV})")
    parser.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="event seconds per wall second; 0 = as fast as possible (default: 1)",
    )
    add_reading_arguments(parser)
    parser.add_argument("--prices-topic", default=DEFAULT_PRICES_TOPIC)
    parser.add_argument("--fills-topic", default=DEFAULT_FILLS_TOPIC)
    parser.add_argument(
        "--include-invalid",
        action="store_true",
        help="forward lines the codec refuses too (exercises the hedger's dead-letter path)",
    )
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_debug_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the process exit status."""
    args = _parser().parse_args(argv)
    if args.speed < 0:
        raise SystemExit("replay: --speed must be >= 0")
    bootstrap = _bootstrap(args.bootstrap)
    stats = ReplayStats()
    return run_command(
        "replay",
        lambda: _replay(args, bootstrap, stats),
        debug=args.debug,
        bootstrap=bootstrap,
        interrupted=lambda: f"interrupted; {stats.in_words()}",
    )


def _replay(args: argparse.Namespace, bootstrap: str, stats: ReplayStats) -> int:
    paths, read_with, window = recordings(args, "replay", args.files)
    show = not args.no_progress and sys.stderr.isatty()
    total = sum(map(count_rows, paths, read_with)) if show else None
    with tqdm(total=total, unit="msg", disable=not show, file=sys.stderr) as bar:
        asyncio.run(
            replay(
                paths,
                bootstrap,
                speed=args.speed,
                prices_topic=args.prices_topic,
                fills_topic=args.fills_topic,
                include_invalid=args.include_invalid,
                batch_size=args.batch_size,
                read_options=read_with,
                window=window,
                progress=bar,
                stats=stats,
            )
        )
    print(orjson.dumps(stats.summary()).decode())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
