"""The distributions `pip install` of a package pulls in, found among those installed in
this virtualenv, and hard-linked elsewhere (a stand-in for installing them there)."""

from __future__ import annotations

import errno
import importlib.metadata
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def dependency_closure(requirements: Iterable[str]) -> dict[str, importlib.metadata.Distribution]:
    """By name, the distributions installed here that `pip install` of a package with
    `requirements` pulls in: those without an extra, theirs, and those of extras named."""
    found: dict[tuple[str, str], importlib.metadata.Distribution] = {}
    pending = [(requirement, "") for requirement in requirements]
    while pending:
        text, extra = pending.pop()
        requirement = Requirement(text)
        if not _applies(requirement, extra):
            continue
        distribution = importlib.metadata.distribution(requirement.name)
        for wanted in {"", *requirement.extras}:
            key = (canonicalize_name(requirement.name), wanted)
            if key not in found:
                found[key] = distribution
                pending.extend((child, wanted) for child in distribution.requires or [])
    return {name: distribution for (name, _), distribution in found.items()}


def _applies(requirement: Requirement, extra: str) -> bool:
    """Whether `requirement` is one of the base requirements (extra "") or of `extra`."""
    if requirement.marker is None:
        return extra == ""
    return requirement.marker.evaluate({"extra": extra})


def link_distribution(distribution: importlib.metadata.Distribution, target: Path) -> None:
    """The top-level files and directories of `distribution` (its RECORD), hard-linked."""
    tops = {path.parts[0] for path in distribution.files or []} - {"..", "__pycache__"}
    target.mkdir(exist_ok=True)
    for top in tops:
        source = Path(str(distribution.locate_file(top)))
        if source.is_dir():
            shutil.copytree(source, target / top, copy_function=_link, dirs_exist_ok=True)
        elif source.exists() and not (target / top).exists():
            _link(source, target / top)


def _link(source: str | Path, target: str | Path) -> None:
    """A hard link, or a copy across file systems (never over an existing file: that would
    write through a link into the virtualenv's own file)."""
    try:
        os.link(source, target)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        shutil.copy2(source, target)
