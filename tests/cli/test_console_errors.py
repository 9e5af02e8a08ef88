"""The console commands on what a user meets: no terminal, a missing file, a broker that is
not there. Exit non-zero with one line on stderr, never a traceback (unless `--debug`)."""

from __future__ import annotations

import time
from importlib import metadata
from pathlib import Path

import pytest

from hedger.config import settings_table
from tests.cli.commands import REPLAY, closed_address, module, one_line, run

FEED = REPLAY[1]  # the bundled recording
# Well within: each fails at once, when nothing listens at the address.
_UNREACHABLE_WITHIN_S = 15


def test_version_is_the_installed_packages() -> None:
    result = run(module("hedger.cli", "--version"))

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"hedger {metadata.version('hedger')}"


@pytest.mark.parametrize(
    "argv",
    [
        module("hedger.cli", "--help"),
        module("producers.replay", "--help"),
        module("producers.simulate", "--help"),
        module("producers.paper_exchange", "--help"),
    ],
    ids=["hedger", "replay", "simulate", "paper_exchange"],
)
def test_help_documents_the_debug_flag(argv: list[str]) -> None:
    result = run(argv)

    assert result.returncode == 0, result.stderr
    assert "--debug" in result.stdout
    assert "traceback" in result.stdout


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            module("hedger.cli", "risk", "{missing}"),
            "hedger risk: {missing}: No such file or directory",
        ),
        (
            module("hedger.cli", "demo", "--feed", "{missing}"),
            "hedger demo: no recording at {missing}",
        ),
        (
            module("producers.simulate", "--days", "0.01", "--out", "{missing}"),
            "simulate: {missing}: No such file or directory",
        ),
        (
            module("producers.option_flow", "{missing}", "--out", "fills.jsonl"),
            "option_flow: {missing}: No such file or directory",
        ),
        (
            module("producers.sp500_example", "--out", "{missing}"),
            "sp500_example: {missing}: No such file or directory",
        ),
    ],
    ids=["hedger-risk", "hedger-demo", "simulate-out", "option_flow", "sp500_example-out"],
)
def test_a_missing_file_is_one_line(argv: list[str], line: str, tmp_path: Path) -> None:
    missing = str(tmp_path / "missing" / "feed.jsonl")  # in a folder that is not there
    result = run([arg.format(missing=missing) for arg in argv])

    assert result.returncode == 1
    # One line: the demo, for one, says it before it starts a broker and a hedger that log.
    assert one_line(result.stderr) == line.format(missing=missing)


@pytest.mark.parametrize(
    ("argv", "prog"),
    [
        (module(*REPLAY, "--speed", "0", "--bootstrap"), "replay"),
        (module(*REPLAY, "--no-progress", "--bootstrap"), "replay"),
        (module("producers.simulate", "--days", "0.01", "--bootstrap"), "simulate"),
        (module("hedger.cli", "risk", "--bootstrap"), "hedger risk"),
        (module("producers.paper_exchange", "--bootstrap"), "paper_exchange"),
        (module("producers.option_flow", FEED, "--bootstrap"), "option_flow"),
    ],
    ids=[
        "replay",
        "replay-no-progress",
        "simulate",
        "hedger-risk",
        "paper_exchange",
        "option_flow",
    ],
)
def test_an_unreachable_broker_is_one_line_and_status_2(argv: list[str], prog: str) -> None:
    bootstrap = closed_address()
    started = time.monotonic()
    result = run([*argv, bootstrap])

    assert result.returncode == 2
    assert (
        one_line(result.stderr) == f"{prog}: cannot reach Kafka at {bootstrap}: no broker answered"
    )
    assert time.monotonic() - started < _UNREACHABLE_WITHIN_S


@pytest.mark.parametrize(
    "argv",
    [
        module("hedger.cli", "--debug", "risk", "no-such-folder/feed.jsonl"),
        module("hedger.cli", "risk", "no-such-folder/feed.jsonl", "--debug"),
        module(*REPLAY, "--debug", "--bootstrap", closed_address()),
    ],
    ids=["hedger-debug-risk", "hedger-risk-debug", "replay"],
)
def test_debug_shows_the_traceback(argv: list[str]) -> None:
    result = run(argv)

    assert result.returncode != 0
    assert "Traceback (most recent call last)" in result.stderr


def test_run_help_lists_every_setting_with_its_default_and_meaning() -> None:
    result = run(module("hedger.cli", "run", "--help"))
    assert result.returncode == 0, result.stderr
    for variable, default, meaning in settings_table():
        assert f"  {variable} [{default or 'none'}]\n      {meaning}\n" in result.stdout + "\n"


def test_make_demo_feed_into_an_unusable_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    result = run(module("producers.make_demo_feed", "--out", str(blocker / "feed.jsonl")))

    assert result.returncode == 1
    assert one_line(result.stderr) == f"make_demo_feed: {blocker}: File exists"
