"""The Dockerfile read as a list of instructions, for the tests that check it without a
Docker engine (none runs here or in CI)."""

from __future__ import annotations

import fnmatch
import re
import shlex

from tests.ops.tools import REPO

_USERADD_UID = re.compile(r"\buseradd\b.*--uid\s+(\d+)")
_USERADD_HOME = re.compile(r"\buseradd\b.*--home-dir\s+(\S+)")


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per instruction, continuation lines joined, comments dropped."""
    logical = REPO.joinpath("Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in logical.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def final_stage() -> list[tuple[str, str]]:
    steps = instructions()
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    return steps[last_from:]


def env_pairs(arguments: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of one `ENV a=1 b=2` instruction, values not yet expanded."""
    pairs = [word.split("=", 1) for word in shlex.split(arguments)]
    assert all(len(pair) == 2 for pair in pairs), f"ENV {arguments}: use the name=value form"
    return [(name, value) for name, value in pairs]


def image_user() -> tuple[int, str]:
    """(uid, home directory) of the user the final stage creates with `useradd`."""
    commands = [arguments for name, arguments in final_stage() if name == "RUN"]
    (uid,) = [int(m.group(1)) for c in commands if (m := _USERADD_UID.search(c))]
    (home,) = [m.group(1) for c in commands if (m := _USERADD_HOME.search(c))]
    return uid, home


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last matching rule wins)."""
    ignored = False
    for rule in REPO.joinpath(".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.removeprefix("!").rstrip("/")
        if fnmatch.fnmatch(path, pattern) or path.startswith(pattern + "/"):
            ignored = not negated
    return ignored
