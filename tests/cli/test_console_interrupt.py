"""Ctrl-C in the middle of a console command: a line saying what was done (or the tool's own
stop summary), exit status 130, no traceback. Mid-run here is waiting on a broker that
accepted the connection and never answers, so no broker is needed."""

from __future__ import annotations

import pytest

from hedger.adapters.broker_process import free_port
from tests.cli.commands import (
    REPLAY,
    Started,
    closed_address,
    connected,
    module,
    one_line,
    silent_broker,
)

INTERRUPTED = 130


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (module(*REPLAY, "--bootstrap"), "replay: interrupted; sent 0 records"),
        (
            module("producers.simulate", "--days", "0.01", "--bootstrap"),
            "simulate: interrupted; sent 0 records",
        ),
        (module("hedger.cli", "risk", "--bootstrap"), "hedger risk: interrupted"),
    ],
    ids=["replay", "simulate", "hedger-risk"],
)
def test_ctrl_c_while_connecting_is_one_line_and_status_130(argv: list[str], line: str) -> None:
    with (
        silent_broker() as (bootstrap, listener),
        Started([*argv, bootstrap]) as command,
        connected(listener),
    ):
        status = command.interrupt()

    assert status == INTERRUPTED, command.said
    assert one_line(command.said) == line
    assert command.stdout == []


def test_paper_exchange_stops_at_ctrl_c_even_while_connecting() -> None:
    argv = module("producers.paper_exchange", "--bootstrap")
    with (
        silent_broker() as (bootstrap, listener),
        Started([*argv, bootstrap]) as command,
        connected(listener),
    ):
        status = command.interrupt()

    assert status == INTERRUPTED, command.said
    assert "Traceback" not in command.said
    assert "stopped: 0 orders filled" in command.stderr[-1]


def test_hedger_run_stopped_by_ctrl_c_exits_130() -> None:
    port = free_port()
    variables = {
        "HEDGER_KAFKA_BOOTSTRAP": closed_address(),
        "HEDGER_BROKER_WAIT_S": "300",
        "HEDGER_METRICS_PORT": str(port),
    }
    with Started(module("hedger.cli", "run"), **variables) as command:
        command.wait_for("broker unreachable")  # waiting for it: mid-run
        status = command.interrupt()

    assert status == INTERRUPTED, command.said
    assert "Traceback" not in command.said
    assert command.stderr[-1].rstrip().endswith("hedger: stopped")
