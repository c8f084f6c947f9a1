"""Namespacing: the one place that turns a service's names and URIs into the gateway's and back.

A tool, prompt or resource template name `n` of service `ns` is exposed as `ns + sep + n`
(`fs.listDir`). A resource URI `u` is exposed as `ns+u` (`fs+file:///a.txt`): `+` is legal in a
URI scheme and never in a namespace, so the split is exact. Decoding never guesses: the caller
looks the namespace up in its table. A service mounted without prefix keeps its names and URIs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from micro_mcp.protocol.jsonrpc import as_object, objects_in

NAMESPACE_PATTERN: Final = re.compile(r"[a-z][a-z0-9-]{0,31}")
"""What a namespace may look like: short, lower case, safe in tool names and URI schemes."""
SEPARATORS: Final = (".", "_", "__", "-", "/")
"""Separators allowed between namespace and name (`_` or `__` for hosts that forbid dots)."""
URI_JOIN: Final = "+"


def is_namespace(value: str) -> bool:
    """True when `value` is a valid namespace."""
    return NAMESPACE_PATTERN.fullmatch(value) is not None


def subject(namespace: str, name: str) -> str:
    """The canonical `ns.name` of policy patterns and audit records, whatever the separator."""
    return f"{namespace}.{name}"


def split_uri(uri: str) -> tuple[str, str] | None:
    """Split an exposed URI `ns+rest` into its namespace candidate and the service's URI."""
    head, sep, rest = uri.partition(URI_JOIN)
    if not sep or not rest or not is_namespace(head):
        return None
    return head, rest


@dataclass(frozen=True, slots=True)
class Namer:
    """How one service's names and URIs appear to clients."""

    namespace: str
    separator: str = "."
    prefixed: bool = True

    def name(self, name: str) -> str:
        """The exposed name of a tool, prompt or template."""
        return f"{self.namespace}{self.separator}{name}" if self.prefixed else name

    def uri(self, uri: str) -> str:
        """The exposed form of a resource URI (or URI template)."""
        return f"{self.namespace}{URI_JOIN}{uri}" if self.prefixed else uri

    def rewrite_content(self, content: Any) -> None:
        """Rewrite, in place, the URIs of resource links and embedded resources in `content`.

        Tool results and prompt messages carry these; a client that reads such a URI back through
        the gateway must reach the same service.
        """
        if not self.prefixed:
            return
        for block in objects_in(content):
            kind = block.get("type")
            if kind == "resource_link" and isinstance(block.get("uri"), str):
                block["uri"] = self.uri(block["uri"])
            elif kind == "resource":
                resource = as_object(block.get("resource"))
                if resource is not None and isinstance(resource.get("uri"), str):
                    resource["uri"] = self.uri(resource["uri"])
