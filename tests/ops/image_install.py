"""The image's install and user reproduced without Docker (no engine runs here or in CI).

The build stage's `pip install .` into a virtualenv at /opt/hedger is done into a temporary
stand-in for /opt/hedger: a wheel built from the same build context (the stage's COPY
sources, as .dockerignore lets them in), installed without dependencies; the dependencies
`pip install .` pulls in (the base requirements and theirs, no extras) are hard-linked from
this virtualenv into a site directory beside it, and nothing else. Everything is
root-owned and read-only, as the image's install is to its user.

Commands then run as the image runs them: as the final stage's uid with no other group,
with its ENV (image paths mapped to their stand-ins), HOME its user's nonexistent home, in
its WORKDIR; /tmp is a fresh world-writable stand-in. The final stage's RUN steps after
USER (build steps its user runs) run first, the same way; the steps before USER (creating
the user) have no stand-in here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from tests.ops.distributions import dependency_closure, link_distribution
from tests.ops.dockerfile import dockerignored, env_pairs, final_stage, image_user, instructions
from tests.ops.tools import REPO, tool, unavailable

IMAGE_PREFIX = "/opt/hedger"
IMAGE_TMP = "/tmp"
# What the python:3.11-slim base image sets, which the Dockerfile's ENV extends.
BASE_ENVIRONMENT = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "LANG": "C.UTF-8",
}
# Where a system Python is, when this one's is closed to other users.
SYSTEM_BIN = ("/usr/local/bin", "/usr/bin")
TIMEOUT_S = 300
_REFERENCE = re.compile(r"\$\{?(\w+)\}?")


@dataclasses.dataclass(frozen=True)
class ImageInstall:
    """The stand-in image: run commands in it with `command`, `environment` and `workdir`."""

    prefix: Path
    uid: int
    environment: dict[str, str]
    workdir: Path
    default_command: list[str]
    # The files the final stage's build steps left in /tmp (its stand-in).
    built_in_tmp: frozenset[Path]

    def command(self, *argv: str) -> list[str]:
        """`argv` run as the image's user (a bare name is looked up on the image's PATH)."""
        return as_user(self.uid, argv)

    def run(self, *argv: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self.command(*argv),
            env=self.environment | extra_env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            check=False,
        )


@contextlib.contextmanager
def image_install() -> Iterator[ImageInstall]:
    """The stand-in image in a temporary directory, removed at the end."""
    if os.geteuid() != 0:
        unavailable("running as the image's uid needs root (CI runs as root)")
    root = Path(tempfile.mkdtemp(prefix="hedger-image-"))
    try:
        root.chmod(0o755)  # mkdtemp's 0700 would hide everything from the image's user
        yield _build(root)
    finally:
        shutil.rmtree(root)


def as_user(uid: int, argv: Iterable[str]) -> list[str]:
    """`argv` run as `uid` (its group too, no other): the image's user has no other."""
    setpriv = tool("setpriv", "util-linux")
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--", *argv]


def _build(root: Path) -> ImageInstall:
    uid, home = image_user()
    if Path(home).exists():  # as the image's, the home must not be the user's to write
        _assert_read_only(Path(home), uid)
    paths = {IMAGE_PREFIX: root / "opt" / "hedger", IMAGE_TMP: root / "tmp"}
    _install(root, paths[IMAGE_PREFIX], uid)
    paths[IMAGE_TMP].mkdir()
    paths[IMAGE_TMP].chmod(0o1777)
    return _final_stage(paths, uid, home)


def _install(root: Path, prefix: Path, uid: int) -> None:
    context, wheels, dependencies = root / "context", root / "wheels", root / "dependencies"
    _copy_build_context(context)
    _pip("wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(wheels), str(context))
    _checked([_interpreter(uid), "-m", "venv", "--without-pip", str(prefix)])
    (wheel,) = wheels.glob("*.whl")
    target = ("--python", str(prefix / "bin" / "python"))
    _pip(*target, "install", "--no-deps", "--no-index", "--ignore-installed", str(wheel))
    (site,) = prefix.glob("lib/python*/site-packages")
    (installed,) = importlib.metadata.distributions(name="hedger", path=[str(site)])
    for distribution in dependency_closure(installed.requires or []).values():
        link_distribution(distribution, dependencies)
    pth = f"import site; site.addsitedir({str(dependencies)!r})\n"
    (site / "_image_dependencies.pth").write_text(pth)
    for tree in (prefix, dependencies):
        _make_read_only(tree)
        _assert_read_only(tree, uid)


def _copy_build_context(context: Path) -> None:
    """What the build stages COPY from the build context, relative to their WORKDIR."""
    steps = instructions()
    last_from = max(i for i, (name, _) in enumerate(steps) if name == "FROM")
    for name, arguments in steps[:last_from]:
        if name != "COPY" or arguments.startswith("--"):
            continue
        *sources, destination = shlex.split(arguments)
        assert not destination.startswith("/"), f"COPY {arguments}: a WORKDIR-relative target"
        for source in sources:
            target = context / destination
            if destination.endswith("/"):
                target = target / Path(source).name
            _copy_context_entry(REPO / source, target)


def _copy_context_entry(source: Path, target: Path) -> None:
    def ignored(directory: str, names: list[str]) -> list[str]:
        relative = Path(directory).relative_to(REPO)
        return [name for name in names if dockerignored(str(relative / name))]

    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, ignore=ignored)
    else:
        shutil.copy2(source, target)


def _interpreter(uid: int) -> str:
    """A Python of this version that `uid` can run: this one's base interpreter if its
    install is open to other users (a pyenv one under /root is not), else the system's."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [Path(sys.base_prefix, "bin", version), *(Path(d, version) for d in SYSTEM_BIN)]
    for candidate in candidates:
        if candidate.exists() and _runs_the_same_as(uid, str(candidate)):
            return str(candidate)
    unavailable(f"no {version} that uid {uid} can run: tried {[str(c) for c in candidates]}")


def _runs_the_same_as(uid: int, python: str) -> bool:
    """`python` runs for `uid` as it does for root (not a binary whose libraries `uid`
    cannot read, falling back to another install's)."""
    probe = [python, "-c", "import sys; print(sys.base_prefix, sys.version_info[:2])"]
    runs = [
        subprocess.run(c, capture_output=True, text=True, timeout=60, check=False)
        for c in (probe, as_user(uid, probe))
    ]
    return all(r.returncode == 0 for r in runs) and runs[0].stdout == runs[1].stdout


def _make_read_only(tree: Path) -> None:
    """chmod a-w, except symbolic links (chmod follows them) and hard links (shared with
    the virtualenv they came from, root-owned and not writable by others already)."""
    for path in [tree, *tree.rglob("*")]:
        mode = path.lstat()
        if stat.S_ISDIR(mode.st_mode) or (stat.S_ISREG(mode.st_mode) and mode.st_nlink == 1):
            path.chmod(stat.S_IMODE(mode.st_mode) & ~0o222)


def _assert_read_only(tree: Path, uid: int) -> None:
    """Nothing in `tree` is writable by `uid` (with its own group only)."""
    for path in [tree, *tree.rglob("*")]:
        mode = path.lstat()
        if stat.S_ISLNK(mode.st_mode):
            continue
        writable = mode.st_mode & stat.S_IWOTH or uid in (mode.st_uid, mode.st_gid)
        assert not writable, f"{path} is writable by uid {uid}"


def _final_stage(paths: dict[str, Path], uid: int, home: str) -> ImageInstall:
    """The final stage's ENV, WORKDIR and default command; its RUN steps after USER run."""
    environment = {**BASE_ENVIRONMENT, "HOME": home}
    workdir, user, command = "/", "root", {"ENTRYPOINT": [], "CMD": []}
    for name, arguments in final_stage():
        if name == "ENV":
            for key, value in env_pairs(arguments):
                environment[key] = _REFERENCE.sub(lambda m: environment.get(m[1], ""), value)
        elif name == "WORKDIR":
            workdir = arguments
        elif name == "USER":
            user = arguments.split(":")[0]
        elif name in command:
            command[name] = json.loads(arguments)
        elif name == "RUN" and user not in ("root", "0"):
            _run_step(
                _map(arguments, paths), uid, _mapped(environment, paths), _map(workdir, paths)
            )
    assert user not in ("root", "0"), "the image runs as root"
    return ImageInstall(
        prefix=paths[IMAGE_PREFIX],
        uid=uid,
        environment=_mapped(environment, paths),
        workdir=Path(_map(workdir, paths)),
        default_command=command["ENTRYPOINT"] + command["CMD"],
        built_in_tmp=frozenset(paths[IMAGE_TMP].rglob("*")),
    )


def _run_step(arguments: str, uid: int, environment: dict[str, str], workdir: str) -> None:
    argv = json.loads(arguments) if arguments.startswith("[") else ["/bin/sh", "-c", arguments]
    step = subprocess.run(
        as_user(uid, argv),
        env=environment,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert step.returncode == 0, f"RUN {arguments}\n{step.stdout}{step.stderr}"


def _mapped(environment: dict[str, str], paths: dict[str, Path]) -> dict[str, str]:
    return {key: _map(value, paths) for key, value in environment.items()}


def _map(text: str, paths: dict[str, Path]) -> str:
    """`text` with each image path (a whole path component) replaced by its stand-in."""
    pattern = "|".join(re.escape(path) for path in paths)
    return re.sub(rf"(?<![\w./-])({pattern})(?=[/:\s\"']|$)", lambda m: str(paths[m[1]]), text)


def _pip(*arguments: str) -> None:
    _checked([sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *arguments])


def _checked(argv: list[str]) -> None:
    """`argv` run to success, away from this checkout (whose hedger.egg-info would tell pip,
    from the working directory or PYTHONPATH, that hedger is installed already)."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        argv,
        cwd="/",
        env=environment,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{shlex.join(argv)}\n{result.stdout}{result.stderr}"
