"""The deployment's audit key: from the environment, or a key file made on first start."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import orjson

from micro_mcp.audit.chain import ARGUMENTS_KEY_LABEL, RECORD_KEY_LABEL, derive
from micro_mcp.errors import ConfigError

MIN_KEY_CHARS: Final = 16
"""A shorter key is refused: it could be guessed, and with it every argument digest."""


@dataclass(frozen=True, slots=True)
class AuditKeys:
    """The two keys the trail uses, derived from the deployment key."""

    record: bytes | None
    """Signs each record (`mac`); None when no key is configured."""
    arguments: bytes
    """Keys the argument digest, so a guessed argument cannot be confirmed from the trail."""

    def digest(self, arguments: Any) -> tuple[int, str]:
        """Size and HMAC-SHA256 (hex) of the arguments' canonical JSON."""
        data = orjson.dumps(arguments, option=orjson.OPT_SORT_KEYS)
        return len(data), hmac.new(self.arguments, data, hashlib.sha256).hexdigest()


def from_key(key: bytes | None) -> AuditKeys:
    """The trail's keys from a deployment key; without one, a run-only argument key."""
    if key is None:
        return AuditKeys(None, secrets.token_bytes(32))
    return AuditKeys(derive(key, RECORD_KEY_LABEL), derive(key, ARGUMENTS_KEY_LABEL))


def load_key(
    key_env: str | None, key_file: str | None, environ: Mapping[str, str] = os.environ
) -> bytes | None:
    """The deployment key: `key_env`'s value, else `key_file`'s (created when missing), else
    None.

    Raises:
        ConfigError: the key is shorter than `MIN_KEY_CHARS`, or the file cannot be read or made.
    """
    if key_env is not None and environ.get(key_env):
        return _checked(environ[key_env].strip(), f"${key_env}")
    if key_file is None:
        return None
    path = Path(key_file)
    try:
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as file:
                file.write(secrets.token_hex(32) + "\n")
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"audit.key_file: {exc}") from exc
    return _checked(text.strip(), f"audit.key_file {path}")


def _checked(text: str, where: str) -> bytes:
    if len(text) < MIN_KEY_CHARS:
        raise ConfigError(f"{where}: the audit key needs at least {MIN_KEY_CHARS} characters")
    return text.encode()
