"""`micro-mcp add FILE|NAME`: a server described by an official MCP Registry `server.json`, added
to a discovery manifest as one entry.

FILE is a server.json (or a registry API answer, `{"server": {...}}`); NAME (`io.github.user/x`)
is looked up in the registry (`--registry`, default the official one) at `--version` (default
`latest`). The document is validated against the registry's published schema and translated by
`config.server_json`; the inputs it declares come from `--set KEY=VALUE`, else, on a terminal,
from a prompt (required ones and secrets; secrets without echo), else from their defaults. The
manifest (JSON or YAML) keeps its other entries as written; it is created when missing.

A secret environment variable or header given as a reference (`--set KEY='${env:NAME}'` or
`'${file:PATH}'`) stays one, resolved by the gateway; any other secret is written in clear text:
the file is then made readable by its owner only, and the command says which values are secret.
Exit code: 0 when the entry was written, 2 when anything is missing or invalid.
"""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, cast

import yaml
from pydantic import ValidationError

from micro_mcp.config import server_json
from micro_mcp.config.model import Manifest
from micro_mcp.config.references import references
from micro_mcp.config.server_json import Answer, Input
from micro_mcp.errors import ConfigError
from micro_mcp.protocol import names

DEFAULT_MANIFEST: Final = "discovery.json"
"""The manifest `add` writes when `--discovery` is not given (in the current directory)."""
REGISTRY_URL: Final = "https://registry.modelcontextprotocol.io"
"""The official MCP Registry; NAME is looked up at `/v0.1/servers/{name}/versions/{version}`."""
FETCH_TIMEOUT: Final = 30.0
"""Seconds a registry lookup may take."""
REGISTRY_NAME: Final = re.compile(r"[a-zA-Z0-9.-]+/[a-zA-Z0-9._-]+")
"""What a server name in the registry looks like (the schema's pattern)."""

Prompt = Callable[[str, bool], str]
"""Asks the user one question (the bool: without echo) and returns the line answered."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Give the `add` command its arguments."""
    parser.description = (
        "Add a server from the official MCP Registry (a server.json file, or a server name "
        "looked up in the registry) to a discovery manifest."
    )
    parser.add_argument("server", metavar="FILE|NAME", help="a server.json file or a server name")
    parser.add_argument(
        "--discovery",
        metavar="FILE",
        default=DEFAULT_MANIFEST,
        help=f"the manifest (JSON or YAML; created if missing); default: {DEFAULT_MANIFEST}",
    )
    parser.add_argument("--namespace", help="the entry's namespace; default: from the server name")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a value for an input the server declares (environment variable, header, argument "
        "or URL variable, by its name); repeatable",
    )
    choice = parser.add_mutually_exclusive_group()
    choice.add_argument("--package", type=int, metavar="N", help="use packages[N]")
    choice.add_argument("--remote", type=int, metavar="N", help="use remotes[N]")
    parser.add_argument("--version", default="latest", help="with NAME: the version to add")
    parser.add_argument("--registry", default=REGISTRY_URL, help="with NAME: the registry's URL")
    parser.add_argument("--no-input", action="store_true", help="never prompt")
    parser.add_argument("--force", action="store_true", help="replace an entry of that namespace")


def run(args: argparse.Namespace, prompt: Prompt | None = None) -> int:
    """Run `micro-mcp add`; returns the exit code. Prompts go through `prompt` (default: the
    terminal, when stdin is one and `--no-input` is not given)."""
    if prompt is None and not args.no_input and sys.stdin.isatty():
        prompt = _terminal
    try:
        server = server_json.validate(*_document(args))
        given = dict(_pair(item) for item in args.set)
        answer, unused = _answers(given, None if args.no_input else prompt)
        made = server_json.entry(server, answer, package=args.package, remote=args.remote)
        if unused:
            raise ConfigError(
                f"--set {', '.join(sorted(unused))}: {server['name']} declares no such input"
            )
        if made.missing:
            wanted = "\n".join(f"  --set {i.key}=...  ({_label(i)})" for i in made.missing)
            raise ConfigError(f"{server['name']} needs values for:\n{wanted}")
        namespace = args.namespace or server_json.namespace_for(server["name"])
        path = Path(args.discovery)
        clear = [where for where in made.secrets if _in_clear(made.spec, where)]
        _write(path, namespace, made.spec, secret=bool(clear), replace=args.force)
    except ConfigError as exc:
        print(f"micro-mcp add: {exc}", file=sys.stderr)
        return 2
    print(f"added {namespace!r} to {path}: {made.shown()}")
    if clear:
        print(
            f"note: {path} now holds secret values in clear text ({', '.join(clear)}); it is "
            "readable by its owner only; keep it out of version control, or give environment "
            "variables and headers as references (--set KEY='${env:NAME}' or '${file:PATH}').",
            file=sys.stderr,
        )
    print(f"check it: micro-mcp check --discovery {path}")
    return 0


def _document(args: argparse.Namespace) -> tuple[Any, str]:
    """The server.json named on the command line, and where it came from."""
    source: str = args.server
    file = Path(source)
    if file.is_file():
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{file}: not readable as JSON: {exc}") from exc
        return _unwrap(data), str(file)
    if REGISTRY_NAME.fullmatch(source) is None:
        raise ConfigError(
            f"{source!r} is neither a file nor a registry name (such as io.github.user/server)"
        )
    url = (
        f"{args.registry.rstrip('/')}/v0.1/servers/{urllib.parse.quote(source, safe='')}"
        f"/versions/{urllib.parse.quote(args.version, safe='')}"
    )
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT) as response:
            data = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise ConfigError(
                f"{source} {args.version}: not in the registry at {args.registry}"
            ) from exc
        raise ConfigError(f"{url}: the registry answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise ConfigError(f"{url}: cannot read the registry: {exc}") from exc
    return _unwrap(data), url


def _unwrap(data: Any) -> Any:
    """A registry API answer (`{"server": {...}, "_meta": ...}`) holds the server.json."""
    match data:
        case {"server": {**server}} if "name" not in data:
            return server
        case _:
            return data


def _in_clear(spec: dict[str, Any], where: str) -> bool:
    """Whether the secret at `where` (`env.KEY`, `headers.NAME`, `args (...)`) is written as
    it is, rather than as a reference the gateway resolves (only env and headers have those)."""
    section, _, key = where.partition(".")
    values: Any = spec.get(section) if section in ("env", "headers") else None
    value: Any = cast(dict[str, Any], values).get(key) if isinstance(values, dict) else None
    return not (isinstance(value, str) and references(value))


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
    return key, value


def _answers(given: dict[str, str], prompt: Prompt | None) -> tuple[Answer, set[str]]:
    """The answer function for `server_json.entry`, and the `--set` keys it has not used yet
    (a set the caller reads after the entry is made)."""
    unused = set(given)

    def answer(wanted: Input) -> str | None:
        if wanted.key in given:
            unused.discard(wanted.key)
            value: str | None = given[wanted.key]
        elif prompt is not None and (wanted.required or wanted.secret):
            default = (
                f" [{wanted.default}]" if wanted.default is not None and not wanted.secret else ""
            )
            about = f" {wanted.description}" if wanted.description else ""
            options = f" (one of: {', '.join(wanted.choices)})" if wanted.choices else ""
            line = prompt(
                f"{wanted.key} ({_label(wanted)}){about}{options}{default}: ", wanted.secret
            )
            value = line or wanted.default
        else:
            value = wanted.default
        if value is not None and wanted.choices and value not in wanted.choices:
            raise ConfigError(f"{wanted.key}: {value!r} is not one of {', '.join(wanted.choices)}")
        return value

    return answer, unused


def _label(wanted: Input) -> str:
    traits = (
        [wanted.kind]
        + (["required"] if wanted.required else [])
        + (["secret"] if wanted.secret else [])
    )
    return ", ".join(traits)


def _terminal(question: str, secret: bool) -> str:
    return getpass.getpass(question) if secret else input(question)


def _write(
    path: Path, namespace: str, spec: dict[str, Any], *, secret: bool, replace: bool
) -> None:
    """Add `spec` under `namespace` to the manifest at `path`, validated, written whole."""
    if not names.is_namespace(namespace):
        raise ConfigError(
            f"{namespace!r} is not a valid namespace: 1-32 of a-z, 0-9 and '-', from a letter"
        )
    suffix = path.suffix.lower()
    if suffix not in (".json", ".yaml", ".yml"):
        raise ConfigError(f"{path}: add writes JSON or YAML manifests (.json, .yaml, .yml)")
    data: Any = {"mcpServers": {}}
    if path.exists():
        try:
            text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text) if suffix != ".json" else json.loads(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"{path}: cannot read the manifest: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a manifest (an object with mcpServers)")
    manifest = cast("dict[str, Any]", data)
    servers = manifest.setdefault("mcpServers", {})
    if not isinstance(servers, dict):
        raise ConfigError(f"{path}: mcpServers is not an object")
    servers = cast("dict[str, Any]", servers)
    if namespace in servers and not replace:
        raise ConfigError(
            f"{path}: {namespace!r} is taken; choose --namespace, or --force to replace it"
        )
    servers[namespace] = spec
    try:
        Manifest.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path}: the entry would not load: {exc.errors()[0]['msg']}") from exc
    text = (
        json.dumps(data, indent=2) + "\n"
        if suffix == ".json"
        else yaml.safe_dump(data, sort_keys=False)
    )
    mode = 0o600 if secret else (path.stat().st_mode & 0o777 if path.exists() else 0o644)
    with tempfile.NamedTemporaryFile(
        "w", dir=path.parent or ".", delete=False, encoding="utf-8", suffix=".tmp"
    ) as out:
        try:
            os.chmod(out.name, mode)
            out.write(text)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(out.name)
            raise
    os.replace(out.name, path)
