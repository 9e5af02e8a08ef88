"""`free_port` hands out listening ports that an outgoing connection cannot take first."""

from __future__ import annotations

import socket
from pathlib import Path

from hedger.adapters import broker_process
from hedger.adapters.broker_process import HOST, free_port


def _ephemeral_range() -> tuple[int, int]:
    low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    return low, high


def test_ports_lie_outside_the_kernels_ephemeral_range() -> None:
    # A port inside the range can be taken as the local end of any outgoing connection
    # (a Kafka client's) between the probe and the server's bind.
    low, high = _ephemeral_range()
    ports = [free_port() for _ in range(50)]
    assert all(not low <= port <= high for port in ports), ports


def test_a_process_never_gets_the_same_port_twice() -> None:
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)


def test_a_port_already_listened_on_is_not_handed_out(monkeypatch) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((HOST, 0))
        taken.listen()
        busy = taken.getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as spare_probe:
            spare_probe.bind((HOST, 0))
            spare = spare_probe.getsockname()[1]
        # The draw offers the busy port first, so only the bind check can pass it over.
        monkeypatch.setattr(broker_process.random, "sample", lambda _ports, _k: [busy, spare])
        assert free_port() == spare
