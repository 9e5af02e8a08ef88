"""Unknown `HEDGER_*` variables are warned about at start, with the setting meant."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from hedger.codec import encode_tick
from hedger.config_check import unknown_variables
from hedger.core.events import PriceTick


def test_a_misspelt_setting_names_the_one_meant() -> None:
    lines = unknown_variables({"HEDGER_HEDGE_BAND_SHARE": "50", "HEDGER_RATE": "0.01"})
    assert lines == [
        "HEDGER_HEDGE_BAND_SHARE is not a hedger setting and is ignored;"
        " did you mean HEDGER_HEDGE_BAND_SHARES?"
    ]


def test_a_variable_like_no_setting_is_still_named() -> None:
    (line,) = unknown_variables({"HEDGER_COLOUR": "blue"})
    assert line.startswith("HEDGER_COLOUR is not a hedger setting and is ignored")
    assert "did you mean" not in line


def test_settings_other_programs_variables_and_the_projects_own_pass() -> None:
    environ = {
        "HEDGER_METRICS_PORT": "9108",
        "PATH": "/bin",
        "HEDGER_KAFKA_CACHE": "/tmp/cache",
        "HEDGER_TEST_BROKER": "apache",
    }
    assert unknown_variables(environ) == []


def test_the_command_warns_on_stderr_and_still_runs(tmp_path: Path) -> None:
    feed = tmp_path / "feed.jsonl"
    feed.write_bytes(encode_tick(PriceTick("XYZ", 10**18, 99.99, 100.01, None, 100.0)) + b"\n")
    done = subprocess.run(
        [str(Path(sys.executable).with_name("hedger")), "backtest", "replay", str(feed)],
        capture_output=True,
        text=True,
        env={**os.environ, "HEDGER_DEFAULT_VOLL": "0.3"},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    warning = "HEDGER_DEFAULT_VOLL is not a hedger setting and is ignored; did you mean"
    assert f"{warning} HEDGER_DEFAULT_VOL?" in done.stderr
