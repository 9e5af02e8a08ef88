"""A configuration as rows a person reads: every setting by its dotted name, durations in
their unit, enums by value, empty sets as "none" (the reports' record of what was run)."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from hedger.backtest.strategies import describe_duration


def settings_rows(value: Any, prefix: str = "") -> list[tuple[str, str]]:
    """(name, value) for every leaf setting of the dataclass `value`, nested ones dotted."""
    rows: list[tuple[str, str]] = []
    for field in dataclasses.fields(value):
        name, setting = f"{prefix}{field.name}", getattr(value, field.name)
        if dataclasses.is_dataclass(setting):
            rows += settings_rows(setting, f"{name}.")
        elif _keyed(setting):  # (key, settings) pairs: books' setups, hedges per underlying
            for key, nested in setting:
                rows += settings_rows(nested, f"{name}.{key}.")
        else:
            rows.append((name, _shown(field.name, setting)))
    return rows


def _keyed(setting: Any) -> bool:
    return (
        isinstance(setting, tuple)
        and bool(setting)
        and all(
            isinstance(item, tuple) and len(item) == 2 and dataclasses.is_dataclass(item[1])
            for item in setting
        )
    )


def _shown(name: str, setting: Any) -> str:
    if isinstance(setting, enum.Enum):
        return str(setting.value)
    if isinstance(setting, bool) or setting is None:
        return str(setting).lower()
    if isinstance(setting, int) and name.endswith("_ns"):
        return describe_duration(setting) if setting else "0"
    if isinstance(setting, float):
        return f"{setting:,.10g}"
    if isinstance(setting, frozenset):
        return ", ".join(sorted(setting)) or "none"
    if isinstance(setting, tuple):
        shown = (f"{item:g}" if isinstance(item, float) else str(item) for item in setting)
        return ", ".join(shown) or "none"
    return str(setting)
