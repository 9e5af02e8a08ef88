"""Warnings for `HEDGER_*` variables that configure nothing: a misspelt setting is otherwise
silently ignored, and the service runs on the default it was meant to replace."""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from hedger.config import settings_table

# Read by the project outside `Settings`: the Kafka jar cache, docker compose's own
# variables, and the test harness's (HEDGER_TEST_*).
_OTHER_VARIABLES = frozenset({"HEDGER_KAFKA_CACHE", "HEDGER_IMAGE", "HEDGER_HOST_PORT"})
_OTHER_PREFIXES = ("HEDGER_TEST_",)


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """One line per `HEDGER_*` variable that is no setting, with the nearest setting's name
    when one is close (`HEDGER_HEDGE_BAND` → did you mean HEDGER_HEDGE_BAND_SHARES?)."""
    settings = [variable for variable, _, _ in settings_table()]
    lines = []
    for name in sorted(environ):
        if not name.startswith("HEDGER_") or name in _OTHER_VARIABLES:
            continue
        if name in settings or name.startswith(_OTHER_PREFIXES):
            continue
        close = difflib.get_close_matches(name, settings, n=1, cutoff=0.75)
        hint = f"; did you mean {close[0]}?" if close else " (the README lists every setting)"
        lines.append(f"{name} is not a hedger setting and is ignored{hint}")
    return lines
