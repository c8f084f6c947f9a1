"""`micro-mcp new`: render a service template into a ready project.

The templates ship inside the package (`micro_mcp/templates/<language>`), so this works from an
installed wheel. Each is a working project named `tpl-service` (Python package `tpl_service`):
rendering copies it and replaces those two tokens, in file contents and in paths, with the new
service's name. The manifest entry printed at the end is the template's own `manifest.json`
entry with `cwd` made absolute, so what the template's tests run is what the gateway runs.
"""

from __future__ import annotations

import argparse
import json
import keyword
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from importlib import resources
from importlib.abc import Traversable
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Final

from rich.console import Console
from rich.text import Text

from micro_mcp.errors import ConfigError
from micro_mcp.protocol import names

LANGUAGES: Final = ("python", "typescript")
NAME_TOKEN: Final = "tpl-service"
"""The template's service name: the namespace, the distribution and npm package, the image."""
PACKAGE_TOKEN: Final = "tpl_service"
"""The template's Python import package."""
SKIPPED: Final = frozenset(
    {"__pycache__", "node_modules", "dist", ".venv", ".pytest_cache", ".ruff_cache"}
)
"""What running a template's tests in place leaves behind; never part of a new project."""
NEXT_STEPS: Final = {
    # The project's own venv: the gateway's has `mcp` but not pytest (a test extra), and a bare
    # `python` may be one with neither.
    "python": "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "
    ".venv/bin/python -m pytest",
    "typescript": "npm install && npm run build && npm test",
}
"""The command, run in the new project, that installs what its tests need and runs them."""


@dataclass(frozen=True, slots=True)
class Project:
    """A rendered service project."""

    name: str
    language: str
    path: Path

    def manifest_entry(self) -> dict[str, Any]:
        """The project's manifest entry, with `cwd` absolute: ready for any manifest."""
        manifest = json.loads((self.path / "manifest.json").read_text(encoding="utf-8"))
        entry: dict[str, Any] = manifest["mcpServers"][self.name]
        if "cwd" in entry:
            entry["cwd"] = str((self.path / entry["cwd"]).resolve())
        return {self.name: entry}


def configure(parser: argparse.ArgumentParser) -> None:
    """Give the `new` command its arguments."""
    parser.description = (
        "Create a service project from a template: the server, its contract test, a README, a "
        "Dockerfile and a manifest entry."
    )
    parser.add_argument("name", help="the service's name and namespace: a-z, 0-9 and '-'")
    parser.add_argument("--lang", choices=LANGUAGES, default="python", help="default: python")
    parser.add_argument("--dir", metavar="DIR", help="where to create it; default: ./NAME")


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run `micro-mcp new`; returns the exit code."""
    console = console or Console()
    target = Path(args.dir if args.dir is not None else args.name)
    try:
        project = render(args.name, args.lang, target)
    except ConfigError as exc:
        console.print(Text.assemble(("micro-mcp new: ", "red"), str(exc)), soft_wrap=True)
        return 2
    # Text, not markup: paths and names are printed exactly, brackets included.
    lines = (
        Text.assemble(f"Created the {project.language} service ", (project.name, "bold"), " in ")
        + Text(str(project.path)),
        Text(f"Test it:  cd {target} && {NEXT_STEPS[project.language]}"),
        Text(f"Check it: {own_command()} check --discovery {target / 'manifest.json'}"),
        Text('Add this entry under "mcpServers" in your manifest:'),
    )
    for line in lines:
        console.print(line, soft_wrap=True)
    console.print_json(data=project.manifest_entry())
    return 0


def own_command() -> str:
    """How to run this micro-mcp again: `micro-mcp` when that name on PATH is this one, else
    its full path (a venv that is not activated)."""
    mine = Path(sysconfig.get_path("scripts")) / "micro-mcp"
    found = shutil.which("micro-mcp")
    if found is not None and Path(found).resolve() == mine.resolve():
        return "micro-mcp"
    return str(mine) if mine.exists() else "micro-mcp"


def render(name: str, language: str, target: Path, source: Traversable | None = None) -> Project:
    """Copy the template for `language` (or the tree `source`) to `target`, renamed to `name`.

    Raises:
        ConfigError: the name is unusable, or `target` exists and is not an empty directory.
    """
    if language not in LANGUAGES:
        raise ConfigError(f"unknown language {language!r}; use {' or '.join(LANGUAGES)}")
    check_name(name, language)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target} already exists and is not empty; choose another --dir")
    template = source or resources.files("micro_mcp").joinpath("templates", language)
    replacements = {NAME_TOKEN: name, PACKAGE_TOKEN: name.replace("-", "_")}
    target.mkdir(parents=True, exist_ok=True)
    _copy(template, target, replacements)
    return Project(name, language, target.resolve())


def check_name(name: str, language: str) -> None:
    """Refuse a name that is no namespace, or whose Python package would clash.

    Raises:
        ConfigError: the name cannot be used.
    """
    if not names.is_namespace(name):
        raise ConfigError(
            f"{name!r} is not a valid service name: use 1-32 characters of a-z, 0-9 and '-', "
            "starting with a letter (it becomes the namespace of the service's tools)"
        )
    if language != "python":
        return
    package = name.replace("-", "_")
    if keyword.iskeyword(package) or keyword.issoftkeyword(package):
        raise ConfigError(f"{package!r} is a Python keyword; choose another name")
    # A package that shadows, or is shadowed by, a module the service imports fails in ways
    # that are hard to read (`python -m json` runs the standard library's).
    if package in sys.stdlib_module_names or _installed(package):
        raise ConfigError(
            f"a Python module named {package!r} already exists; the service's package would "
            "clash with it, so choose another name"
        )


def _installed(package: str) -> bool:
    spec = find_spec(package)
    # A namespace package (a plain folder on sys.path, such as the project folder itself in
    # the current directory) has no origin; it is not something the service would import.
    return spec is not None and spec.origin is not None


def _copy(source: Traversable, target: Path, replacements: dict[str, str]) -> None:
    for entry in source.iterdir():
        if entry.name in SKIPPED:
            continue
        destination = target / _replace(entry.name, replacements)
        if entry.is_dir():
            destination.mkdir()
            _copy(entry, destination, replacements)
            continue
        data = entry.read_bytes()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            destination.write_bytes(data)
        else:
            destination.write_text(_replace(text, replacements), encoding="utf-8")


def _replace(text: str, replacements: dict[str, str]) -> str:
    for token, value in replacements.items():
        text = text.replace(token, value)
    return text
