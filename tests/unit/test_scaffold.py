"""`micro-mcp new`: names checked, templates rendered whole and renamed, the manifest entry."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from micro_mcp.cli import scaffold
from micro_mcp.config.model import Manifest
from micro_mcp.errors import ConfigError

TOKENS = (scaffold.NAME_TOKEN, scaffold.PACKAGE_TOKEN)


def rendered_files(root: Path) -> dict[str, str]:
    """Every file under `root`, by relative path, with its text."""
    return {
        str(path.relative_to(root)): path.read_text(encoding="utf-8")
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("language", scaffold.LANGUAGES)
def test_render_replaces_every_token_in_paths_and_contents(tmp_path: Path, language: str) -> None:
    project = scaffold.render("word-stats", language, tmp_path / "out")

    files = rendered_files(project.path)
    leftovers = [p for p, text in files.items() if any(t in p or t in text for t in TOKENS)]
    assert leftovers == []
    assert {"README.md", "Dockerfile", "manifest.json", ".gitignore"} <= set(files)
    assert any("word-stats" in text for text in files.values())


def test_python_package_takes_the_name_with_underscores(tmp_path: Path) -> None:
    project = scaffold.render("word-stats", "python", tmp_path / "out")

    server = project.path / "src" / "word_stats" / "server.py"
    assert 'NAME = "word-stats"' in server.read_text(encoding="utf-8")
    assert (project.path / "tests" / "test_contract.py").read_text(encoding="utf-8").count(
        "from word_stats.server import"
    ) == 1


def test_typescript_package_json_takes_the_name(tmp_path: Path) -> None:
    project = scaffold.render("word-stats", "typescript", tmp_path / "out")

    package = json.loads((project.path / "package.json").read_text(encoding="utf-8"))
    assert package["name"] == "word-stats"
    assert package["bin"] == {"word-stats": "dist/src/index.js"}


@pytest.mark.parametrize("language", scaffold.LANGUAGES)
def test_manifest_entry_is_valid_with_an_absolute_cwd(tmp_path: Path, language: str) -> None:
    project = scaffold.render("stats", language, tmp_path / "out")

    entry = project.manifest_entry()
    spec = Manifest.model_validate({"mcpServers": entry}).mcp_servers["stats"]
    assert spec.cwd is not None
    assert Path(spec.cwd).is_absolute()
    assert Path(spec.cwd).is_dir()
    assert str(project.path) in spec.cwd


@pytest.mark.parametrize(
    "name",
    ["Upper", "1abc", "has_underscore", "has.dot", "", "a" * 33, "-lead"],
)
def test_names_that_are_no_namespace_are_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError, match="not a valid service name"):
        scaffold.render(name, "typescript", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["class", "match", "json", "asyncio", "pytest", "mcp"])
def test_python_names_that_clash_with_keywords_or_modules_are_refused(
    tmp_path: Path, name: str
) -> None:
    with pytest.raises(ConfigError, match=r"keyword|already exists"):
        scaffold.render(name, "python", tmp_path / "out")


def test_a_python_clash_is_fine_for_typescript(tmp_path: Path) -> None:
    project = scaffold.render("json", "typescript", tmp_path / "out")

    assert (project.path / "package.json").is_file()


def test_a_non_empty_target_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "keep.txt").write_text("mine")

    with pytest.raises(ConfigError, match="not empty"):
        scaffold.render("stats", "python", target)
    assert [p.name for p in target.iterdir()] == ["keep.txt"]


def test_an_empty_existing_target_is_used(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()

    project = scaffold.render("stats", "python", target)

    assert (project.path / "pyproject.toml").is_file()


def test_leftovers_of_running_a_template_in_place_are_not_copied(tmp_path: Path) -> None:
    source = tmp_path / "template"
    (source / "src" / "tpl_service" / "__pycache__").mkdir(parents=True)
    (source / "src" / "tpl_service" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (source / "node_modules" / "dep").mkdir(parents=True)
    (source / "src" / "tpl_service" / "a.py").write_text("NAME = 'tpl-service'\n")
    (source / "logo.bin").write_bytes(b"\xff\xfe tpl-service")

    project = scaffold.render("stats", "python", tmp_path / "out", source=source)

    assert sorted(str(p.relative_to(project.path)) for p in project.path.rglob("*")) == [
        "logo.bin",
        "src",
        "src/stats",
        "src/stats/a.py",
    ]
    assert (project.path / "src" / "stats" / "a.py").read_text() == "NAME = 'stats'\n"
    assert (project.path / "logo.bin").read_bytes() == b"\xff\xfe tpl-service"


def test_new_command_prints_the_entry_and_exits_zero(tmp_path: Path) -> None:
    out = io.StringIO()
    args = argparse.Namespace(name="stats", lang="python", dir=str(tmp_path / "p"))

    code = scaffold.run(args, Console(file=out, width=200))

    assert code == 0
    printed = out.getvalue()
    entry = json.loads(printed[printed.index("{") :])
    assert entry["stats"]["args"] == ["-m", "stats"]


def test_new_command_with_a_bad_name_exits_two(tmp_path: Path) -> None:
    out = io.StringIO()
    args = argparse.Namespace(name="Bad", lang="python", dir=str(tmp_path / "p"))

    assert scaffold.run(args, Console(file=out, width=200)) == 2
    assert "not a valid service name" in out.getvalue()
