"""The image's build stage, short of the container engine: the wheel `pip install .` builds
from exactly the files the `.dockerignore` lets into the build context holds what the gateway and
the services read at run time."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from fnmatch import fnmatch
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def build_context(root: Path) -> list[Path]:
    """The files `docker build` sends, by this repository's `.dockerignore`: `*` first, then
    `!path` admissions, then `src/**/NAME` exclusions (the only forms it uses; anything else
    fails here rather than being read wrongly)."""
    patterns = [
        line
        for line in (root / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert patterns[0] == "*"
    admitted = [p.removeprefix("!").rstrip("/") for p in patterns[1:] if p.startswith("!")]
    excluded = [p.removeprefix("src/**/") for p in patterns[1:] if not p.startswith("!")]
    assert all("/" not in x for x in excluded), patterns  # each was src/**/NAME
    files: list[Path] = []
    for name in admitted:
        top = root / name
        for path in [top] if top.is_file() else [p for p in top.rglob("*") if p.is_file()]:
            parts = path.relative_to(root).parts
            if not any(fnmatch(part, x) for part in parts for x in excluded):
                files.append(path.relative_to(root))
    return files


def test_the_wheel_built_from_the_build_context_holds_what_runs(tmp_path: Path) -> None:
    context = tmp_path / "context"
    for path in build_context(ROOT):
        (context / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / path, context / path)
    assert not list(context.rglob("__pycache__"))

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(context),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )

    assert done.returncode == 0, done.stderr
    [wheel] = (tmp_path / "dist").glob("micro_mcp-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        scripts = archive.read(entry_points).decode()
    assert "micro-mcp = micro_mcp.cli.main:main" in scripts
    for needed in (
        "micro_mcp/defaults/discovery.default.json",  # the image's default command's manifest
        "micro_mcp/gateway/operator/admin.html",
        "micro_mcp/services/fs/__main__.py",
        "micro_mcp/services/vector/__main__.py",
        "micro_mcp/deploy/kubernetes.py",
        "micro_mcp/templates/python/manifest.json",
    ):
        assert needed in names
