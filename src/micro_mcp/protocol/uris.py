"""Resource URIs in one normal form, so that a policy over URIs sees what the service will read.

A service resolves `file:///./private/key.txt`, `file:///public/../private/key.txt` and
`file:///%70rivate/key.txt` to the same file as `file:///private/key.txt`; a pattern over the
raw string would not. `normalize` applies RFC 3986's syntax-based normalisation (section 6.2.2)
and a little more where the scheme says:

- the scheme and the host are lower case;
- percent-escapes of unreserved characters (`%41` -> `A`, `%2E` -> `.`) and of valid UTF-8
  text (`%C3%A9` -> `é`) are decoded; the other escapes keep their meaning, in upper case;
- dot segments are removed (`/a/./b/../c` -> `/a/c`, never above the root);
- `file:` URIs take the `file:///x` form (`file:/x`, `file://localhost/x`) and lose repeated
  slashes (`file:////x` -> `file:///x`).

An escaped `/`, `\\` or NUL in the path is refused: a service that decodes the path after the
gateway matched it would see separators (`public%2F..%2Fprivate`) that the match did not. What
the normal form cannot know is what only the service can resolve: symbolic links, hard links,
case-insensitive file systems, mount points.
"""

from __future__ import annotations

import re
from typing import Final

from micro_mcp import codes
from micro_mcp.errors import McpError

_SCHEME: Final = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_ESCAPES: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_UNRESERVED: Final = frozenset(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
_REFUSED_IN_PATH: Final = frozenset(b"/\\\0")
"""Bytes that must not hide behind an escape in a path: separators and the string end."""


def normalize(uri: str) -> str:
    """The normal form of a resource URI (see the module docstring).

    Raises:
        McpError: INVALID_PARAMS, the path escapes a separator or NUL.
    """
    match = _SCHEME.match(uri)
    if match is None:
        return _unescape(uri, in_path=False)
    scheme = match.group(1).lower()
    rest = uri[match.end() :]
    rest, fragment = _cut(rest, "#")
    rest, query = _cut(rest, "?")
    authority: str | None = None
    if rest.startswith("//"):
        end = rest.find("/", 2)
        authority, rest = (rest[2:], "") if end < 0 else (rest[2:end], rest[end:])
        authority = _authority(authority)
    path = _unescape(rest, in_path=True)
    if scheme == "file":
        if authority == "localhost" or (authority is None and path.startswith("/")):
            authority = ""  # RFC 8089: `file:/x` and `file://localhost/x` are `file:///x`
        path = re.sub("/{2,}", "/", path)
    path = remove_dot_segments(path)
    out = scheme + ":"
    if authority is not None:
        out += "//" + authority
    out += path
    if query is not None:
        out += "?" + _unescape(query, in_path=False)
    if fragment is not None:
        out += "#" + _unescape(fragment, in_path=False)
    return out


def _cut(text: str, mark: str) -> tuple[str, str | None]:
    head, sep, tail = text.partition(mark)
    return head, tail if sep else None


def _authority(authority: str) -> str:
    """Lower-case the host of `userinfo@host:port`; the user part keeps its case."""
    user, at, host = authority.rpartition("@")
    return user + at + _unescape(host, in_path=False).lower()


def _unescape(text: str, *, in_path: bool) -> str:
    if "%" not in text:
        return text
    return _ESCAPES.sub(lambda m: _decode_run(m.group(0), in_path), text)


def _decode_run(run: str, in_path: bool) -> str:
    data = bytes.fromhex(run.replace("%", ""))
    out: list[str] = []
    i = 0
    while i < len(data):
        byte = data[i]
        if byte < 0x80:
            if in_path and byte in _REFUSED_IN_PATH:
                raise McpError(
                    f"resource URI path has an escaped separator or NUL (%{byte:02X}); "
                    "write the character itself, or leave it out",
                    code=codes.INVALID_PARAMS,
                )
            out.append(chr(byte) if byte in _UNRESERVED else f"%{byte:02X}")
            i += 1
            continue
        size = 2 if byte >> 5 == 0b110 else 3 if byte >> 4 == 0b1110 else 4
        try:
            char = data[i : i + size].decode("utf-8")
        except UnicodeDecodeError:
            char = ""
        if len(char) == 1 and char.isprintable() and not char.isspace():
            out.append(char)
            i += size
        else:
            out.append(f"%{byte:02X}")
            i += 1
    return "".join(out)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4: `.` and `..` segments resolved, never above the root."""
    if "." not in path:
        return path
    segments = path.split("/")
    absolute = path.startswith("/")
    out: list[str] = []
    for segment in segments[1:] if absolute else segments:
        if segment == ".":
            continue
        if segment == "..":
            if out:
                out.pop()
            continue
        out.append(segment)
    if segments[-1] in (".", ".."):
        out.append("")  # `/a/b/..` is the directory `/a/`
    joined = "/".join(out)
    return "/" + joined if absolute else joined
