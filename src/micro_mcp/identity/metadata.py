"""RFC 9728 protected-resource metadata, and the `WWW-Authenticate` challenges that point to it."""

from __future__ import annotations

import re
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

from micro_mcp.config.oauth import OAuthSpec

WELL_KNOWN: Final = "/.well-known/oauth-protected-resource"
"""The metadata's path (RFC 9728 §3); the resource's own path follows it in the path form."""
_UNQUOTABLE: Final = re.compile(r'[^\x20-\x7e]|["\\]')


def metadata_url(resource: str) -> str:
    """Where the metadata of `resource` is (RFC 9728 §3.1): the well-known path inserted
    between the host and the resource's path, `https://gw/mcp` -> `https://gw/.well-known/
    oauth-protected-resource/mcp`."""
    parts = urlsplit(resource)
    path = parts.path.rstrip("/")
    return urlunsplit((parts.scheme, parts.netloc, WELL_KNOWN + path, "", ""))


def is_metadata_path(path: str) -> bool:
    """Whether a request path asks for the metadata (root or path form)."""
    return path == WELL_KNOWN or path.startswith(WELL_KNOWN + "/")


def document(spec: OAuthSpec) -> dict[str, Any]:
    """The metadata document of the gateway."""
    servers = spec.authorization_servers or (spec.issuer,)
    scopes = spec.scopes_supported if spec.scopes_supported is not None else spec.required_scopes
    body: dict[str, Any] = {
        "resource": spec.resource,
        "authorization_servers": list(servers),
        "bearer_methods_supported": ["header"],
        "resource_name": "micro-mcp",
    }
    if scopes:
        body["scopes_supported"] = list(scopes)
    return body


def challenge(
    metadata: str | None,
    *,
    error: str | None = None,
    description: str | None = None,
    scopes: tuple[str, ...] = (),
) -> bytes:
    """A `WWW-Authenticate: Bearer ...` value (RFC 6750 §3, RFC 9728 §5.1)."""
    params = ['realm="micro-mcp"']
    if metadata is not None:
        params.append(f'resource_metadata="{_quoted(metadata)}"')
    if error is not None:
        params.append(f'error="{error}"')
    if description is not None:
        params.append(f'error_description="{_quoted(description)}"')
    if scopes:
        params.append(f'scope="{_quoted(" ".join(scopes))}"')
    return ("Bearer " + ", ".join(params)).encode("ascii")


def _quoted(text: str) -> str:
    """`text` safe inside a quoted-string: RFC 6750 allows printable ASCII but `"` and `\\`."""
    return _UNQUOTABLE.sub("?", text)
