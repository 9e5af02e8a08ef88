"""The documentation against the code: every metric has its row, every local link lands."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
METRICS_SOURCE = ROOT / "hedger" / "adapters" / "metrics.py"
METRICS_PAGE = ROOT / "docs" / "reference" / "metrics.md"
FRONT_PAGES = ("README.md", "CONTRIBUTING.md")
# Markdown links outside code: [text](target), the target without a URL scheme.
LINK = re.compile(r"\]\(([^)\s]+)\)")


def code_metric_names() -> set[str]:
    return set(re.findall(r'"(hedger_[a-z0-9_]+)"', METRICS_SOURCE.read_text(encoding="utf-8")))


def documented_metric_names() -> set[str]:
    names: set[str] = set()
    for line in METRICS_PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("| `hedger_"):
            names.update(re.findall(r"`(hedger_[a-z0-9_]+)`", line.split("|")[1]))
    return names


def prose(text: str) -> str:
    """The text without fenced code blocks."""
    kept, in_code = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code:
            kept.append(line)
    return "\n".join(kept)


def test_metrics_page_lists_every_metric_of_the_code():
    missing = code_metric_names() - documented_metric_names()
    assert not missing, f"docs/reference/metrics.md lacks {sorted(missing)}"


def test_metrics_page_lists_no_unknown_metric():
    unknown = documented_metric_names() - code_metric_names()
    assert not unknown, f"docs/reference/metrics.md documents unknown {sorted(unknown)}"


@pytest.mark.parametrize("page", FRONT_PAGES)
def test_front_page_local_links_exist(page: str):
    targets = LINK.findall(prose((ROOT / page).read_text(encoding="utf-8")))
    local = [t.split("#")[0] for t in targets if "://" not in t and not t.startswith("#")]
    missing = [t for t in local if t and not (ROOT / t).exists()]
    assert local, f"{page} links to nothing"
    assert not missing, f"{page} links to missing {missing}"


def test_settings_page_includes_the_readme_configuration_tables():
    # docs/hooks/readme_tables.py copies these README sections into the settings page.
    readme = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert "### Configuration" in readme
    assert "### Controls configuration" in readme
    page = (ROOT / "docs" / "reference" / "settings.md").read_text(encoding="utf-8")
    assert "<!-- README: configuration tables -->" in page
