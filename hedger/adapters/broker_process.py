"""Child processes of brokers (the embedded Tansu, Apache Kafka): ports, signals, and a
bare Kafka Metadata probe that tells when a broker serves clients."""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import signal
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

HOST = "127.0.0.1"
_PROBE_TIMEOUT_S = 0.5
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


# Ports handed out by this process, so two servers it starts never get the same one.
_handed_out: set[int] = set()
_LISTEN_PORTS_LOWEST = 10000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_EPHEMERAL_DEFAULT = (32768, 60999)  # Linux's default, used where the file cannot be read


def free_port() -> int:
    """A loopback port free now (for brokers, and for HTTP servers in tests and benchmarks).

    Drawn below the kernel's ephemeral range, never from it: a port the kernel hands out
    (bind to 0) goes back to the pool the moment the probe closes, and any outgoing
    connection made before our server binds it (a Kafka client, a JVM's first socket) can
    take it as its own local port. CI lost a three-node cluster start to exactly that.
    Outgoing connections never use ports outside the ephemeral range.
    """
    low, high = _ephemeral_range()
    below, above = range(_LISTEN_PORTS_LOWEST, low), range(high + 1, 65536)
    candidates = max(below, above, key=len)
    for port in random.sample(candidates, min(len(candidates), 200)):
        if port not in _handed_out and _can_bind(port):
            _handed_out.add(port)
            return port
    raise OSError(f"no free loopback port in {candidates.start}-{candidates.stop - 1}")


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = map(int, _EPHEMERAL_RANGE.read_text().split())
    except (OSError, ValueError):
        return _EPHEMERAL_DEFAULT
    return low, high


def _can_bind(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
        return True


def signal_group(process: subprocess.Popen[bytes], signum: int) -> None:
    # The child leads its own process group (start_new_session), and it is not reaped
    # yet (poll() was None), so the group id cannot have been reused.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signum)


def die_with_parent_hook() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGKILL the child when we die, even by SIGKILL.

    The kernel ties this to the *thread* that forked, so it is only armed from the main
    thread: from a worker thread the broker would die when that thread ends.
    """
    if not sys.platform.startswith("linux"):
        return None
    if threading.current_thread() is not threading.main_thread():
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent_pid = os.getpid()

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent_pid:  # we died before the hook was armed
            os.kill(os.getpid(), signal.SIGKILL)

    return arm


# Metadata v1 request for no topics (v1: an empty array means none, null means all).
_PROBE_CORRELATION_ID = 0x4845
_PROBE_CLIENT_ID = b"hedger-probe"
_PROBE_BODY = (
    struct.pack(">hhih", 3, 1, _PROBE_CORRELATION_ID, len(_PROBE_CLIENT_ID))
    + _PROBE_CLIENT_ID
    + struct.pack(">i", 0)
)
_METADATA_PROBE = struct.pack(">i", len(_PROBE_BODY)) + _PROBE_BODY
_MAX_PROBE_RESPONSE_BYTES = 1 << 20


def answers_metadata(port: int, expected_ports: frozenset[int] | None = None) -> bool:
    """True if a Kafka broker on `port` answers Metadata and advertises that port (or, given
    `expected_ports`, every one of them: a cluster whose members have all joined)."""
    try:
        with socket.create_connection((HOST, port), timeout=_PROBE_TIMEOUT_S) as connection:
            connection.sendall(_METADATA_PROBE)
            (size,) = struct.unpack(">i", _receive_exactly(connection, 4))
            if not 0 < size <= _MAX_PROBE_RESPONSE_BYTES:
                return False
            response = _receive_exactly(connection, size)
    except OSError:
        return False
    return (expected_ports or frozenset({port})) <= _advertised_ports(response)


def _receive_exactly(connection: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = connection.recv(size - len(chunks))
        if not chunk:
            raise ConnectionError("broker closed the connection mid-response")
        chunks += chunk
    return bytes(chunks)


def _advertised_ports(response: bytes) -> set[int]:
    """Broker ports from a Metadata v1 response (brokers: node_id, host, port, rack)."""
    try:
        correlation_id, broker_count = struct.unpack_from(">ii", response, 0)
        if correlation_id != _PROBE_CORRELATION_ID:
            return set()
        offset, ports = 8, set()
        for _ in range(broker_count):
            (host_length,) = struct.unpack_from(">h", response, offset + 4)
            offset += 6 + host_length
            (port,) = struct.unpack_from(">i", response, offset)
            (rack_length,) = struct.unpack_from(">h", response, offset + 4)
            offset += 6 + max(rack_length, 0)
            ports.add(port)
        return ports
    except struct.error:
        return set()
