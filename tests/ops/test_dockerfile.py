"""The Dockerfile checked statically: no Docker engine runs here, so the image is never built
in CI. What can be checked without building it is checked; test_image_run.py installs and
runs the package as the image does."""

from __future__ import annotations

import shlex
import tomllib

from hedger.config import Settings
from tests.ops.dockerfile import dockerignored, final_stage, instructions
from tests.ops.tools import REPO


def test_dockerfile_copies_only_files_that_exist_and_reach_the_context() -> None:
    sources = [
        source
        for name, arguments in instructions()
        if name == "COPY" and not arguments.startswith("--from")
        for source in shlex.split(arguments)[:-1]
    ]
    assert sources
    for source in sources:
        assert (REPO / source).exists(), source
        assert not dockerignored(source), source


def test_dockerignore_keeps_the_venv_and_git_out_of_the_context() -> None:
    assert dockerignored(".venv")
    assert dockerignored(".git")
    assert dockerignored("tests")


def test_dockerfile_runs_as_a_non_root_user() -> None:
    users = [arguments for name, arguments in final_stage() if name == "USER"]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_dockerfile_health_checks_livez_on_the_metrics_port() -> None:
    (check,) = [arguments for name, arguments in final_stage() if name == "HEALTHCHECK"]
    assert "/livez" in check
    assert "HEDGER_METRICS_PORT" in check
    exposed = [arguments for name, arguments in final_stage() if name == "EXPOSE"]
    assert exposed == [str(Settings().metrics_port)]


def test_dockerfile_entrypoint_is_the_hedger_console_script_running_the_service() -> None:
    steps = dict(final_stage())
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert steps["ENTRYPOINT"] == '["hedger"]'
    assert steps["CMD"] == '["run"]'
    assert scripts["hedger"] == "hedger.cli:main"


def test_dockerfile_base_images_are_pinned_python_311() -> None:
    images = [arguments.split()[0] for name, arguments in instructions() if name == "FROM"]
    assert images
    assert all(image.startswith("python:3.11-") for image in images)
