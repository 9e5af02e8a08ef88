"""A command running in the image stand-in (tests/ops/image_install.py) as a container
without a TTY runs it (`docker run` without `-t`, every compose service of this project):
stdin /dev/null, no controlling terminal, stdout and stderr each into a file, as Docker's
log driver collects them.

Files, not pipes: a pipe read only at the end fills up (64 KiB) and blocks the child in the
middle of a line (tests/integration/harness.py, HedgerProcess). A plain Popen: the tests
signal and reap it synchronously, like a supervisor would.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import tempfile
import weakref
from collections.abc import Iterator, Mapping, Sequence
from typing import IO

from hedger.config import Settings
from tests.integration.harness import DEADLINE_S, is_ready, wait_until
from tests.ops.image_install import ImageInstall

STOP_TIMEOUT_S = 30.0


class ImageProcess(subprocess.Popen[bytes]):
    """`argv` as the image's user, with the image's ENV and `environment` on top of it (as
    `docker run -e` or a compose service's `environment:` sets it)."""

    def __init__(
        self, image: ImageInstall, argv: Sequence[str], environment: Mapping[str, str]
    ) -> None:
        self.argv = list(argv)  # as the image runs it (`args` has the setpriv before it)
        self._stdout, self._stderr = _log_file(self), _log_file(self)
        super().__init__(
            image.command(*argv),
            env=image.environment | dict(environment),
            cwd=image.workdir,
            stdin=subprocess.DEVNULL,
            stdout=self._stdout,
            stderr=self._stderr,
            start_new_session=True,  # a session of its own: no controlling terminal
        )

    def printed(self) -> str:
        """All it has written to stdout so far."""
        return _read(self._stdout)

    def logged(self) -> str:
        """All it has written to stderr so far."""
        return _read(self._stderr)

    def said(self) -> str:
        """Both, labelled: what a failing assertion shows."""
        return f"stdout:\n{self.printed()}\nstderr:\n{self.logged()}"

    async def wait_ready(self, settings: Settings) -> None:
        """Until its /readyz (at `settings`' port) answers 200; fails, with what it said, if
        it stops first or is not ready within `DEADLINE_S`."""
        try:
            await wait_until(lambda: is_ready(settings) if self.poll() is None else True)
        except TimeoutError:
            raise AssertionError(f"not ready in {DEADLINE_S} s:\n{self.said()}") from None
        assert self.poll() is None, f"stopped before it was ready:\n{self.said()}"

    async def exited(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """Its exit status, waited for off the event loop (the broker clients on it go on)."""
        return await asyncio.to_thread(self.wait, timeout_s)

    async def stopped(self, timeout_s: float = STOP_TIMEOUT_S) -> int:
        """SIGTERM, as `docker stop` sends it, then its exit status."""
        self.terminate()
        return await self.exited(timeout_s)


@contextlib.contextmanager
def reaped(process: ImageProcess) -> Iterator[ImageProcess]:
    """`process`, killed at the end if it still runs (a failed test), and waited for."""
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def _log_file(owner: object) -> IO[bytes]:
    log = tempfile.TemporaryFile()  # noqa: SIM115 (closed with its owner)
    weakref.finalize(owner, log.close)
    return log


def _read(log: IO[bytes]) -> str:
    """All of `log` (read without moving the offset the child writes at)."""
    fd = log.fileno()
    return os.pread(fd, os.fstat(fd).st_size, 0).decode(errors="replace")
