"""The commands docs/DEPLOY.md shows work as written, in a copy of the repository's files.

`micro-mcp` commands run; `docker`, `kubectl` and `npx` ones cannot here (no registry access,
no cluster), so what they take from earlier steps (files, a token) is checked to exist instead.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from micro_mcp.deploy import kubernetes

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "DEPLOY.md"
NOT_RUN = ("docker", "kubectl", "npx")
SETUP = ("python3 -m venv", ".venv/bin/pip install")
"""The install line: the test suite runs inside that install already."""


def commands() -> list[str]:
    """Every command of the doc's bash blocks, continuation lines joined, comments dropped."""
    found: list[str] = []
    for block in re.findall(r"```bash\n(.*?)```", DOC.read_text(), flags=re.DOTALL):
        for line in block.replace("\\\n", " ").splitlines():
            command = line.split("  #")[0].strip()
            found += [part.strip() for part in command.split("&&") if part.strip()]
    return found


def rendered_names(path: Path) -> dict[tuple[str, str], list[str]]:
    """The objects `micro-mcp deploy kubernetes` wrote, by kind and name: their containers."""
    return {
        (o["kind"].lower(), o["metadata"]["name"]): [
            c["name"]
            for c in o.get("spec", {}).get("template", {}).get("spec", {}).get("containers", [])
        ]
        for o in yaml.safe_load_all(path.read_text())
    }


def test_every_command_in_deploy_md_runs_or_finds_what_it_needs(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy", ignore=shutil.ignore_patterns("secrets"))
    shutil.copy(ROOT / "compose.yaml", tmp_path)
    bin_dir = Path(sys.executable).parent
    ran: list[str] = []
    needed: list[str] = []
    stores: list[str] = []
    for command in commands():
        if command.startswith(SETUP):
            continue
        if command.startswith(NOT_RUN):
            needed.append(command)
            continue
        assert command.startswith(".venv/bin/micro-mcp "), command
        argv = shlex.split(command)
        argv[0] = str(bin_dir / "micro-mcp")
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, (command, done.stderr)
        ran.append(argv[1] + " " + argv[2])
        if "--redis" in argv:
            stores.append(argv[argv.index("--redis") + 1])

    assert ran == ["deploy secrets", "deploy secrets", "deploy kubernetes"]
    # The Redis each config names is the one its deployment runs.
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert compose["services"]["redis"]["image"].startswith("redis:")
    assert stores == [
        "redis://redis:6379/0",
        kubernetes.redis_url(kubernetes.Options(image="any")),
    ]
    assert {c.split()[0] for c in needed} == set(NOT_RUN)
    for command in needed:
        for path in re.findall(r"--from-file=[\w.-]+=(\S+)", command):
            assert (tmp_path / path).is_file(), command
        for path in re.findall(r'\$PWD/([^:"]+)', command):
            assert (tmp_path / path).is_file(), command
        for path in re.findall(r"apply -f (\S+)", command):
            assert list(yaml.safe_load_all((tmp_path / path).read_text())), command
        for namespace in re.findall(r"kubectl -n (\S+)", command):
            objects = yaml.safe_load_all((tmp_path / "micro-mcp.yaml").read_text())
            assert {o["metadata"]["namespace"] for o in objects} == {namespace}, command
        for kind, name in re.findall(r"\b(deployment|service)/([\w-]+)", command):
            assert (kind, name) in rendered_names(tmp_path / "micro-mcp.yaml"), command
        for name, container in re.findall(r"set image deployment/([\w-]+) ([\w-]+)=", command):
            assert container in rendered_names(tmp_path / "micro-mcp.yaml")["deployment", name]
        for snippet in re.findall(r"\$\((python3 -c '[^']*')\)", command):
            done = subprocess.run(
                shlex.split(snippet), cwd=tmp_path, capture_output=True, text=True
            )
            assert done.returncode == 0 and len(done.stdout.strip()) >= 40, snippet
