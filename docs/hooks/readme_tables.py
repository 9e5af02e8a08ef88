"""MkDocs hook: the settings page shows the README's configuration tables.

The README keeps them (tests/test_config.py checks them against `hedger.config`), so the
site includes them at build time instead of holding a second copy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

MARKER = "<!-- README: configuration tables -->"
HEADINGS = ("### Configuration", "### Controls configuration")


def readme_section(text: str, heading: str) -> str:
    """From `heading` to the next heading of any level, outside code fences."""
    lines = text.splitlines()
    start = lines.index(heading)
    body, in_code = [lines[start].replace("### ", "## ", 1)], False
    for line in lines[start + 1 :]:
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif not in_code and line.startswith("#"):
            break
        body.append(line)
    return "\n".join(body).rstrip() + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MARKER not in markdown:
        return markdown
    readme = Path(config["config_file_path"]).parent / "README.md"
    text = readme.read_text(encoding="utf-8")
    tables = "\n".join(readme_section(text, heading) for heading in HEADINGS)
    return markdown.replace(MARKER, tables)
