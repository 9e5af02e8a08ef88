"""Running the console commands as a user does: a child process, its output piped (not a
terminal), a broker address where nothing listens or one that never answers, Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO

from hedger.adapters.broker_process import HOST, free_port

DEADLINE_S = 60
REPOSITORY = Path(__file__).resolve().parents[2]
REPLAY = ("producers.replay", "producers/data/demo_feed.jsonl")


def module(*argv: str) -> list[str]:
    """`python -m` with this interpreter."""
    return [sys.executable, "-m", *argv]


def environment(**variables: str) -> dict[str, str]:
    """This process's environment without the developer's HEDGER_* settings, plus these."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEDGER_")}
    return {**env, "HEDGER_HTTP_HOST": HOST, **variables}


def run(argv: list[str], **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        env=environment(**variables),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        cwd=REPOSITORY,
    )


def one_line(stderr: str) -> str:
    """The only line of `stderr`, which holds no traceback."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def closed_address() -> str:
    """A loopback address where nothing listens: a connection is refused at once."""
    return f"{HOST}:{free_port()}"


@contextlib.contextmanager
def silent_broker() -> Iterator[tuple[str, socket.socket]]:
    """A loopback address that accepts connections and never answers (a hung broker), and
    its listening socket: `accept()` returns once a client is connecting, mid-run."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind((HOST, 0))
        listener.listen()
        listener.settimeout(DEADLINE_S)
        yield f"{HOST}:{listener.getsockname()[1]}", listener


@contextlib.contextmanager
def connected(listener: socket.socket) -> Iterator[None]:
    """Until the block ends, the first client connection, held open and never answered."""
    connection, _ = listener.accept()
    with connection:
        yield


class Started:
    """A command running with stdout and stderr piped, read as they come, so that a test can
    wait for a line before it presses Ctrl-C."""

    def __init__(self, argv: list[str], **variables: str) -> None:
        self.process = subprocess.Popen(
            argv,
            env=environment(**variables),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPOSITORY,
            # A shell starts background jobs with SIGINT ignored, and children inherit it:
            # undone, or the child would never see the Ctrl-C these tests send.
            preexec_fn=_default_sigint,
        )
        self.stdout: list[str] = []
        self.stderr: list[str] = []
        self._readers = [
            threading.Thread(target=_collect, args=(self.process.stdout, self.stdout)),
            threading.Thread(target=_collect, args=(self.process.stderr, self.stderr)),
        ]
        for reader in self._readers:
            reader.start()

    def __enter__(self) -> Started:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self._finish()

    def wait_for(self, text: str, timeout_s: float = DEADLINE_S) -> str:
        """The first line of stdout or stderr that holds `text`."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = [line for line in self.stdout + self.stderr if text in line]
            if found:
                return found[0]
            assert self.process.poll() is None, f"exited before saying {text!r}: {self.said}"
            time.sleep(0.05)
        raise AssertionError(f"did not say {text!r} within {timeout_s} s: {self.said}")

    def interrupt(self) -> int:
        """Ctrl-C; the exit status, once the command has stopped."""
        self.process.send_signal(signal.SIGINT)
        self._finish()
        return self.process.returncode

    @property
    def said(self) -> str:
        return "".join(self.stderr)

    def _finish(self) -> None:
        self.process.wait(timeout=DEADLINE_S)
        for reader in self._readers:
            reader.join(timeout=DEADLINE_S)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def _collect(stream: IO[str], lines: list[str]) -> None:
    for line in stream:
        lines.append(line)


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)
