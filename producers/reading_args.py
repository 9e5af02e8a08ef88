"""How a command reads its recordings, from its command line: the reading options, for every
file or for one file at a time (shared by `replay`, `option_flow` and `hedger backtest`).

The reading options (`--format`, `--map`, `--ts-unit`, `--timezone`, `--symbol`) apply to
every file named as an argument. A file given with `-i FILE` instead is read with the
reading options written just before it, and only those (as `ffmpeg -i` and sox take
them), so a vendor CSV and a wire-format fills file go in one run:

    --map symbol=ric --map ts=time --ts-unit ms -i quotes.csv fills.jsonl

Options written after the last `-i`, or with none, apply to the named files.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from producers.recording import FORMATS, ReadOptions
from producers.routing import TimeWindow
from producers.timestamps import UNITS, TimestampError, parse_timestamp, zone

# (destination, value) of each reading option, in command-line order.
Noted = list[tuple[str, Any]]


class _NoteReading(argparse.Action):
    """Notes a reading option in order; the next `-i` takes what was noted."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: Any, value: Any, flag: Any = None
    ) -> None:
        # A new list each time: the default one is shared by every parse.
        namespace.reading_noted = [*namespace.reading_noted, (self.dest, value)]


class _Input(argparse.Action):
    """A recording read with the reading options noted since the last `-i`."""

    def __call__(
        self, parser: argparse.ArgumentParser, namespace: Any, value: Any, flag: Any = None
    ) -> None:
        namespace.inputs = [*namespace.inputs, (Path(value), namespace.reading_noted)]
        namespace.reading_noted = []


def add_reading_arguments(parser: argparse.ArgumentParser, per_file: bool = True) -> None:
    """The options that say how to read recordings; with `per_file`, `-i FILE` too."""
    reading = parser.add_argument_group("reading the recordings")
    note: dict[str, Any] = {"action": _NoteReading}
    reading.add_argument(
        "--format", choices=FORMATS, help="default: from the file's suffix", **note
    )
    reading.add_argument(
        "--map",
        metavar="FIELD=COLUMN",
        help="read wire field FIELD (symbol, ts, bid, ask, last, vol, ...) from COLUMN"
        " (repeatable)",
        **note,
    )
    reading.add_argument("--ts-unit", choices=UNITS, help="default: auto", **note)
    reading.add_argument(
        "--timezone", help="zone of timestamps without an offset (default: UTC)", **note
    )
    reading.add_argument(
        "--symbol", help="symbol for rows that have none (one-symbol files)", **note
    )
    if per_file:
        reading.add_argument(
            "-i",
            "--input",
            action=_Input,
            metavar="FILE",
            help="a recording read with the reading options written just before it, only"
            " those (repeatable)",
        )
    reading.add_argument("--start", help="first event time kept (ISO-8601 or epoch)")
    reading.add_argument("--end", help="event time at which to stop (exclusive)")
    parser.set_defaults(reading_noted=[], inputs=[])


def reading_options(args: argparse.Namespace, prog: str) -> tuple[ReadOptions, TimeWindow]:
    """The reading options for the named files (those after the last `-i`, or all) and
    the time window; exits with one line on bad ones."""
    try:
        options = _read_options(args.reading_noted)
        # Bounds are read as ISO-8601 or epoch of any unit, whatever the file's unit is.
        window = TimeWindow(
            *(
                None if text is None else parse_timestamp(text, "auto", zone(options.timezone))
                for text in (args.start, args.end)
            )
        )
    except (ValueError, TimestampError) as exc:
        raise SystemExit(f"{prog}: {exc}") from None
    return options, window


def recordings(
    args: argparse.Namespace, prog: str, named: Sequence[Path]
) -> tuple[list[Path], list[ReadOptions], TimeWindow]:
    """Every recording, the `named` files then the `-i` ones, with the options each is
    read with, and the time window; exits with one line on bad options or no file."""
    options, window = reading_options(args, prog)
    paths, read_with = list(named), [options] * len(named)
    for path, noted in args.inputs:
        try:
            read_with.append(_read_options(noted))
        except ValueError as exc:
            raise SystemExit(f"{prog}: -i {path}: {exc}") from None
        paths.append(path)
    if not paths:
        raise SystemExit(f"{prog}: no recording given: name the files, or give -i FILE")
    for path in paths:
        if not path.is_file():
            raise SystemExit(f"{prog}: no recording at {path}")
    return paths, read_with, window


def _read_options(noted: Noted) -> ReadOptions:
    given = dict(noted)  # the last of each; --map entries all count
    mapping = dict(_pair(value) for dest, value in noted if dest == "map")
    return ReadOptions(
        mapping,
        given.get("ts_unit") or "auto",
        given.get("timezone") or "UTC",
        given.get("symbol"),
        given.get("format"),
    )


def _pair(item: str) -> tuple[str, str]:
    name, separator, column = item.partition("=")
    if not separator or not name.strip() or not column.strip():
        raise ValueError(f"--map takes FIELD=COLUMN, got {item!r}")
    return name.strip(), column.strip()
