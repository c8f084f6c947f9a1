"""An official MCP Registry `server.json` turned into a discovery-manifest entry.

The document is first validated against the registry's published JSON Schema, vendored in
`schemas/` (`SCHEMA_URL`, version `SCHEMA_VERSION`). One of its `packages` (npm, pypi or oci,
run over stdio) or `remotes` (streamable-http or sse) becomes one manifest entry:

- npm: `npx -y IDENTIFIER@VERSION ARGS...`; pypi: `uvx IDENTIFIER==VERSION ARGS...`; oci:
  `docker run -i --rm -e NAME... IMAGE:VERSION ARGS...` (each environment variable passed into
  the container by name). A `runtimeHint` replaces the command, `runtimeArguments` come first
  (for npm in place of `-y`).
- a remote: its URL (its `{variables}` filled in) and headers.

Every value the document leaves open (an environment variable, header, argument or URL variable
without a fixed `value`) is an `Input`; the caller's `answer` gives its value, and what stays
unanswered while required is reported all at once. Values are strings, exactly as the manifest
keeps them: a secret given here is written into it as given (a `${env:NAME}` or `${file:PATH}`
reference in `env` and `headers` is resolved by the gateway); `Entry.secrets` says where.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import jsonschema

from micro_mcp.errors import ConfigError
from micro_mcp.protocol import names

SCHEMA_VERSION: Final = "2025-12-11"
"""The server.json schema version vendored and validated against."""
SCHEMA_URL: Final = (
    f"https://static.modelcontextprotocol.io/schemas/{SCHEMA_VERSION}/server.schema.json"
)
"""Where the vendored schema was published (its `$id`)."""
_SCHEMA_FILE: Final = f"server.schema.{SCHEMA_VERSION}.json"
_VARIABLE: Final = re.compile(r"\{([A-Za-z0-9_.-]+)\}")
"""A `{name}` placeholder in a value or URL."""
_COMMANDS: Final = {"npm": "npx", "pypi": "uvx", "oci": "docker"}
"""The runtime each supported registry type runs with when no `runtimeHint` says otherwise."""


@dataclass(frozen=True, slots=True)
class Input:
    """A value the server.json leaves to the user."""

    key: str
    """What `--set KEY=VALUE` names: the variable, header, argument hint or flag name."""
    kind: str
    """`environment variable`, `header`, `argument` or `variable`."""
    description: str = ""
    required: bool = False
    secret: bool = False
    default: str | None = None
    choices: tuple[str, ...] = ()


Answer = Callable[[Input], str | None]
"""Gives an input's value (given, asked for, or its default), or None to leave it out."""


@dataclass(slots=True)
class Entry:
    """A manifest entry made from a server.json, and what went into it."""

    spec: dict[str, Any]
    """The entry, as the manifest's `mcpServers` holds it (camelCase keys)."""
    secrets: list[str] = field(default_factory=list[str])
    """Where secret values sit in `spec` (`env.API_KEY`, `headers.Authorization`,
    `args (--token)`)."""
    missing: list[Input] = field(default_factory=list[Input])
    """Required inputs left without a value; the entry is unusable while any are."""
    secret_values: set[str] = field(default_factory=set[str])
    """The secret values given, for hiding them wherever the entry is shown."""

    def shown(self) -> str:
        """The entry's URL or command line, secret values hidden."""
        text = self.spec.get("url") or " ".join([self.spec["command"], *self.spec["args"]])
        for value in sorted(self.secret_values, key=len, reverse=True):
            text = text.replace(value, "***") if value else text
        return text


@functools.cache
def _validator() -> jsonschema.Draft7Validator:
    text = resources.files("micro_mcp.config").joinpath("schemas", _SCHEMA_FILE).read_text("utf-8")
    return jsonschema.Draft7Validator(json.loads(text))


def validate(document: Any, source: str) -> dict[str, Any]:
    """`document` as a server.json that passes the published schema.

    Raises:
        ConfigError: it does not, with each fault's path.
    """
    found: Iterator[jsonschema.ValidationError] = _validator().iter_errors(document)  # pyright: ignore[reportUnknownMemberType]  # an overload of the stubs is untyped
    errors = sorted(found, key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        faults = [f"{source}: {_path(e.absolute_path)}: {e.message}" for e in errors]
        raise ConfigError(
            f"not a valid server.json (schema {SCHEMA_VERSION}, {SCHEMA_URL}):\n"
            + "\n".join(faults)
        )
    server: dict[str, Any] = document  # the schema makes it an object
    return server


def namespace_for(server_name: str) -> str:
    """A manifest namespace from a registry name: `io.github.user/weather-api` -> `weather-api`."""
    tail = server_name.rsplit("/", 1)[-1].lower()
    candidate = re.sub(r"[^a-z0-9-]+", "-", tail).strip("-")
    candidate = re.sub(r"^[^a-z]+", "", candidate)[:32].rstrip("-")
    return candidate if names.is_namespace(candidate) else "server"


def entry(
    server: Mapping[str, Any],
    answer: Answer,
    *,
    package: int | None = None,
    remote: int | None = None,
) -> Entry:
    """The manifest entry for `server` (validated): the package or remote at the index given,
    else the first stdio package of a supported type, else the first remote.

    Raises:
        ConfigError: nothing in `server` can become an entry, or the index names none.
    """
    packages: Sequence[Mapping[str, Any]] = server.get("packages") or ()
    remotes: Sequence[Mapping[str, Any]] = server.get("remotes") or ()
    if package is not None and remote is not None:
        raise ConfigError("choose a package or a remote, not both")
    if package is not None:
        if not 0 <= package < len(packages):
            raise ConfigError(f"{server['name']} has {len(packages)} package(s); no [{package}]")
        return _Builder(answer).package(packages[package])
    if remote is not None:
        if not 0 <= remote < len(remotes):
            raise ConfigError(f"{server['name']} has {len(remotes)} remote(s); no [{remote}]")
        return _Builder(answer).remote(remotes[remote])
    for candidate in packages:
        if _supported(candidate):
            return _Builder(answer).package(candidate)
    if remotes:
        return _Builder(answer).remote(remotes[0])
    kinds = ", ".join(f"{p['registryType']} over {p['transport']['type']}" for p in packages)
    raise ConfigError(
        f"{server['name']} offers nothing micro-mcp can run: packages: {kinds or 'none'} "
        "(supported: npm, pypi, oci over stdio); remotes: none"
    )


def _supported(package: Mapping[str, Any]) -> bool:
    return package["registryType"] in _COMMANDS and package["transport"]["type"] == "stdio"


class _Builder:
    """Resolves one package's or remote's inputs into an entry."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.result = Entry({})

    def package(self, package: Mapping[str, Any]) -> Entry:
        kind = package["registryType"]
        if not _supported(package):
            raise ConfigError(
                f"package {package['identifier']!r} ({kind} over {package['transport']['type']}) "
                "cannot be run by micro-mcp: it runs npm, pypi and oci packages over stdio"
            )
        identifier: str = package["identifier"]
        version: str | None = package.get("version")
        env: dict[str, str] = {}
        for variable in package.get("environmentVariables") or ():
            value = self._value(
                variable, variable["name"], "environment variable", f"env.{variable['name']}"
            )
            if value is not None:
                env[variable["name"]] = value
        runtime = self._arguments(package.get("runtimeArguments") or ())
        arguments = self._arguments(package.get("packageArguments") or ())
        if kind == "npm":
            target = [*(runtime or ["-y"]), f"{identifier}@{version}" if version else identifier]
        elif kind == "pypi":
            target = [*runtime, f"{identifier}=={version}" if version else identifier]
        else:
            tagged = (
                identifier if not version or _has_tag(identifier) else f"{identifier}:{version}"
            )
            passed = [item for name in env for item in ("-e", name)]
            target = ["run", "-i", "--rm", *passed, *runtime, tagged]
        spec: dict[str, Any] = {
            "command": package.get("runtimeHint") or _COMMANDS[kind],
            "args": [*target, *arguments],
        }
        if env:
            spec["env"] = env
        self.result.spec = spec
        return self.result

    def remote(self, remote: Mapping[str, Any]) -> Entry:
        variables: Mapping[str, Any] = remote.get("variables") or {}
        url = self._substitute(remote["url"], variables, "url")
        left = [m.group(1) for m in _VARIABLE.finditer(url) if m.group(1) not in variables]
        if left:
            raise ConfigError(f"remote {remote['url']}: no variable declares {', '.join(left)}")
        headers: dict[str, str] = {}
        for header in remote.get("headers") or ():
            value = self._value(header, header["name"], "header", f"headers.{header['name']}")
            if value is not None:
                headers[header["name"]] = value
        spec: dict[str, Any] = {"type": remote["type"], "url": url}
        if headers:
            spec["headers"] = headers
        self.result.spec = spec
        return self.result

    def _arguments(self, arguments: Sequence[Mapping[str, Any]]) -> list[str]:
        argv: list[str] = []
        for argument in arguments:
            named = argument["type"] == "named"
            key = argument["name"] if named else argument.get("valueHint") or f"argument{len(argv)}"
            value = self._value(argument, key, "argument", f"args ({key})")
            if value is None:
                continue
            argv += [argument["name"], value] if named else [value]
        return argv

    def _value(self, spec: Mapping[str, Any], key: str, kind: str, where: str) -> str | None:
        if "value" in spec:
            return self._substitute(spec["value"], spec.get("variables") or {}, where)
        given = self._ask(spec, key, kind)
        if given is not None and spec.get("isSecret"):
            self.result.secrets.append(where)
            self.result.secret_values.add(given)
        return given

    def _substitute(self, template: str, variables: Mapping[str, Any], where: str) -> str:
        def fill(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in variables:
                return match.group(0)  # the schema: an unknown `{name}` stays as it is
            given = self._ask(variables[name], name, "variable")
            if given is not None and variables[name].get("isSecret"):
                self.result.secrets.append(where)
                self.result.secret_values.add(given)
            return match.group(0) if given is None else given

        return _VARIABLE.sub(fill, template)

    def _ask(self, spec: Mapping[str, Any], key: str, kind: str) -> str | None:
        wanted = Input(
            key=key,
            kind=kind,
            description=spec.get("description", ""),
            required=bool(spec.get("isRequired")),
            secret=bool(spec.get("isSecret")),
            default=spec.get("default"),
            choices=tuple(spec.get("choices") or ()),
        )
        given = self.answer(wanted)
        if given is None and wanted.required:
            self.result.missing.append(wanted)
        return given


def _has_tag(image: str) -> bool:
    last = image.rsplit("/", 1)[-1]
    return ":" in last or "@" in last


def _path(parts: Iterable[str | int]) -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts)
    return text.lstrip(".") or "(top level)"
