"""Credentials by reference: `${env:NAME}` and `${file:PATH}` in a service's `env` and `headers`.

A value is literal text with references in it, as a whole (`${file:/run/secrets/token}`) or
embedded (`Bearer ${env:API_TOKEN}`). The manifest keeps the references; the gateway resolves
them when it starts a service and again on a reload, into `SecretStr`s whose `repr` and `str`
never show the value. An error names the service, the key and the reference, never a value.

`NAME` is an environment variable of the gateway (`[A-Za-z_][A-Za-z0-9_]*`); `PATH` is a file,
relative to the manifest's folder unless absolute, read whole with surrounding whitespace
stripped (as Kubernetes mounts a Secret's key). Any other `${...}` is literal text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from pydantic import SecretStr

from micro_mcp.errors import UnresolvedReference

MAX_FILE_BYTES: Final = 64 * 1024
"""The largest secret file read; a larger one (or a device such as /dev/zero) is an error."""

_REFERENCE: Final = re.compile(r"\$\{(env|file):([^}]*)\}")
_OPENING: Final = re.compile(r"\$\{(env|file):")
_ENV_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Kind = Literal["env", "file"]


@dataclass(frozen=True, slots=True)
class Reference:
    """One `${kind:target}` in a value."""

    kind: Kind
    target: str

    def __str__(self) -> str:
        return f"${{{self.kind}:{self.target}}}"


Part = str | Reference
"""Literal text, or a reference to resolve."""
Reader = Callable[[Path], str]
"""Reads a referenced file's text (tests pass one that reads from a dict)."""


def parse(value: str) -> tuple[Part, ...]:
    """The literal text and references of a value, in order (no empty literals).

    Raises:
        ValueError: a `${env:` or `${file:` that is not a whole reference (unclosed, an empty
            target, or a variable name that is not one); the message quotes no value.
    """
    parts: list[Part] = []
    at = 0
    for match in _REFERENCE.finditer(value):
        parts.append(value[at : match.start()])
        kind: Kind = "env" if match.group(1) == "env" else "file"
        target = match.group(2)
        if not target or (kind == "env" and _ENV_NAME.fullmatch(target) is None):
            raise ValueError(f"a ${{{kind}:...}} reference needs a {_WHAT[kind]}")
        parts.append(Reference(kind, target))
        at = match.end()
    parts.append(value[at:])
    for part in parts:
        if isinstance(part, str) and (opening := _OPENING.search(part)) is not None:
            raise ValueError(f"an unclosed ${{{opening.group(1)}:...}} reference")
    return tuple(part for part in parts if part != "")


_WHAT: Final[dict[Kind, str]] = {
    "env": "variable name ([A-Za-z_][A-Za-z0-9_]*)",
    "file": "path",
}


def references(value: str) -> tuple[Reference, ...]:
    """The references in a value (none for a malformed one: the manifest refuses those)."""
    try:
        return tuple(part for part in parse(value) if isinstance(part, Reference))
    except ValueError:
        return ()


def check(values: Mapping[str, str]) -> Mapping[str, str]:
    """`values` unchanged when each parses; for the manifest's validators.

    Raises:
        ValueError: naming the key of the first malformed value (never the value).
    """
    for key, value in values.items():
        try:
            parse(value)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return values


def read_file(path: Path) -> str:
    """A secret file's text, at most `MAX_FILE_BYTES`.

    Raises:
        OSError: the file cannot be read.
        ValueError: it is larger than that, or not UTF-8.
    """
    with path.open("rb") as file:
        data = file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ValueError(f"it is over {MAX_FILE_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("it is not UTF-8 text") from None


@dataclass(frozen=True, slots=True)
class ServiceSecrets:
    """A service's `env` and `headers` with their references resolved; equal when every value
    is, so a reload can tell a changed secret. Its `repr` shows keys, never values."""

    env: Mapping[str, SecretStr] = field(default_factory=dict[str, SecretStr])
    headers: Mapping[str, SecretStr] = field(default_factory=dict[str, SecretStr])
    pieces: tuple[SecretStr, ...] = ()
    """What the references themselves resolved to (a token without its `Bearer `)."""
    client_secret: SecretStr | None = None
    """The `auth.clientSecret`, resolved, when the entry has `auth`."""

    def env_values(self) -> dict[str, str]:
        """The environment variables in clear, for the service's process."""
        return {key: value.get_secret_value() for key, value in self.env.items()}

    def header_values(self) -> dict[str, str]:
        """The headers in clear, for the HTTP client."""
        return {key: value.get_secret_value() for key, value in self.headers.items()}

    def referenced(self) -> list[str]:
        """In clear, what came from references, for redacting what the service writes."""
        return [piece.get_secret_value() for piece in self.pieces]


def resolve_service(
    namespace: str,
    env: Mapping[str, str],
    headers: Mapping[str, str],
    *,
    environ: Mapping[str, str],
    base_dir: Path,
    read: Reader = read_file,
    client_secret: str | None = None,
) -> ServiceSecrets:
    """A service's `env` and `headers` (and its `auth.clientSecret`) resolved against the
    gateway's environment and files.

    Raises:
        UnresolvedReference: naming the service, the key and the first reference that failed.
    """
    where = f"service {namespace!r}"
    pieces: list[str] = []
    resolved_env = {
        key: resolve(value, environ, base_dir, read, where=f"{where}: env.{key}", pieces=pieces)
        for key, value in env.items()
    }
    resolved_headers: dict[str, SecretStr] = {}
    for key, value in headers.items():
        at = f"{where}: headers.{key}"
        secret = resolve(value, environ, base_dir, read, where=at, pieces=pieces)
        if any(char in secret.get_secret_value() for char in "\r\n\0"):
            raise UnresolvedReference(f"{at}: {_named(value)} resolves to a line break")
        resolved_headers[key] = secret
    auth = None
    if client_secret is not None:
        at = f"{where}: auth.clientSecret"
        auth = resolve(client_secret, environ, base_dir, read, where=at, pieces=pieces)
    return ServiceSecrets(resolved_env, resolved_headers, tuple(map(SecretStr, pieces)), auth)


def resolve(
    value: str,
    environ: Mapping[str, str],
    base_dir: Path,
    read: Reader = read_file,
    *,
    where: str = "value",
    pieces: list[str] | None = None,
) -> SecretStr:
    """One value with its references replaced.

    Raises:
        UnresolvedReference: a variable is unset or empty, a file is unreadable or empty, or
            the value is malformed; the message starts with `where`.

    What each reference resolved to is appended to `pieces`, when given.
    """
    try:
        parts = parse(value)
    except ValueError as exc:
        raise UnresolvedReference(f"{where}: {exc}") from None
    text: list[str] = []
    for part in parts:
        if isinstance(part, str):
            text.append(part)
            continue
        found = _lookup(part, environ, base_dir, read, where)
        text.append(found)
        if pieces is not None:
            pieces.append(found)
    return SecretStr("".join(text))


def _lookup(
    reference: Reference, environ: Mapping[str, str], base_dir: Path, read: Reader, where: str
) -> str:
    if reference.kind == "env":
        found = environ.get(reference.target)
        if not found:
            raise UnresolvedReference(f"{where}: {reference}: the variable is unset or empty")
        return found
    path = Path(reference.target)
    try:
        found = read(path if path.is_absolute() else base_dir / path).strip()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UnresolvedReference(f"{where}: {reference}: cannot read the file: {reason}") from None
    except ValueError as exc:
        raise UnresolvedReference(f"{where}: {reference}: {exc}") from None
    if not found:
        raise UnresolvedReference(f"{where}: {reference}: the file is empty")
    return found


def _named(value: str) -> str:
    """The references of a value, to name in an error in its place."""
    return ", ".join(str(reference) for reference in references(value)) or "the value"
