"""How every console command of the project ends: `hedger` and its subcommands, and the
`python -m producers.*` tools. An error ends a command with one line, Ctrl-C with a line
saying what was done and status 130; `--debug` shows the traceback instead (`CONVENTIONS`).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable

from aiokafka.errors import KafkaConnectionError, KafkaError

from hedger.adapters.kafka import DeliveryTimeoutError
from hedger.adapters.kafka_security import KafkaRefusedError
from hedger.config import ConfigError

# As a shell reports a command that Ctrl-C ended (128 + SIGINT).
INTERRUPTED = 128 + signal.SIGINT
# As `hedger run` and `hedger topics` exit when the broker cannot be asked.
BROKER_UNREACHABLE = 2
DEBUG_HELP = "on an error or Ctrl-C, show the Python traceback instead of one line"
CONVENTIONS = (
    "An error ends a command with one line on stderr and exit status 1 (2 when Kafka cannot"
    " be reached or a setting is wrong); Ctrl-C ends it with a line saying what was done and"
    " status 130 (SIGTERM stops the service with 0). --debug, before or after the"
    " subcommand, shows the traceback instead."
)


def run_command(
    prog: str,
    command: Callable[[], int],
    *,
    debug: bool = False,
    bootstrap: str | None = None,
    interrupted: Callable[[], str] | None = None,
) -> int:
    """Run a console command's `command` and return its exit status. An error ends it with
    one line on stderr, `prog: why` (`bootstrap` names the broker it talks to); Ctrl-C with
    `prog: interrupted`, or the line `interrupted()` gives (what was done so far), and 130.
    With `debug`, the error or Ctrl-C propagates with its traceback instead."""
    try:
        return command()
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: {interrupted() if interrupted else 'interrupted'}", file=sys.stderr)
        return INTERRUPTED
    except Exception as error:  # all of them: no one meets a traceback without asking
        if debug:
            raise
        status, why = explain(error, bootstrap)
        print(f"{prog}: {why}", file=sys.stderr)
        return status


def explain(error: Exception, bootstrap: str | None = None) -> tuple[int, str]:
    """The exit status of a command ended by `error`, and the words that say why."""
    kafka = f"Kafka at {bootstrap}" if bootstrap else "Kafka"
    if isinstance(error, KafkaRefusedError | ConfigError):  # each names what is wrong
        return BROKER_UNREACHABLE, str(error)
    if isinstance(error, KafkaConnectionError):
        return BROKER_UNREACHABLE, f"cannot reach {kafka}: no broker answered"
    if isinstance(error, KafkaError | DeliveryTimeoutError):
        return BROKER_UNREACHABLE, f"{kafka}: {error}"
    if isinstance(error, OSError) and error.filename is not None:
        return 1, f"{error.filename}: {error.strerror}"
    if isinstance(error, OSError):
        return 1, str(error)
    said = f": {error}" if str(error) else ""
    return 1, f"unexpected {type(error).__name__}{said} (--debug shows the traceback)"


def add_debug_argument(parser: argparse.ArgumentParser, default: object = False) -> None:
    """`--debug`, for `run_command`."""
    parser.add_argument("--debug", action="store_true", default=default, help=DEBUG_HELP)


class StopSignal(asyncio.Event):
    """Set by SIGTERM or SIGINT (Ctrl-C), remembering the first: a command stopped by
    SIGTERM (`docker stop`) exits 0, by Ctrl-C 130 (`exit_status`), as a shell expects."""

    def __init__(self) -> None:
        super().__init__()
        self.signal: int | None = None

    def receive(self, signum: int) -> None:
        self.signal = signum if self.signal is None else self.signal
        self.set()

    @property
    def exit_status(self) -> int:
        return INTERRUPTED if self.signal == signal.SIGINT else 0


def until_signalled() -> StopSignal:
    """An event set by SIGTERM or SIGINT (Ctrl-C)."""
    stop = StopSignal()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.receive, signum)
    return stop
