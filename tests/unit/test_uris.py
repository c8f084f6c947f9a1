"""Resource URIs in normal form: the spellings a service reads as one resource are one string."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.protocol.uris import normalize, remove_dot_segments


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        # The hostile-testing findings: each is the denied file:///private/key.txt.
        ("file:///./private/key.txt", "file:///private/key.txt"),
        ("file:///public/../private/key.txt", "file:///private/key.txt"),
        ("file:///%70rivate/key.txt", "file:///private/key.txt"),
        ("file:///%2E%2E/private/key.txt", "file:///private/key.txt"),
        ("file:///public/%2e%2e/private/key.txt", "file:///private/key.txt"),
        ("file:////private//key.txt", "file:///private/key.txt"),
        ("file://localhost/private/key.txt", "file:///private/key.txt"),
        ("file:/private/key.txt", "file:///private/key.txt"),
        ("file:/./private/key.txt", "file:///private/key.txt"),
        ("FILE:///private/key.txt", "file:///private/key.txt"),
        ("pol://items/%34%32", "pol://items/42"),
        # Case of the scheme and host, not of the path.
        ("POL://Items.Example/A/B", "pol://items.example/A/B"),
        ("http://User@HOST:80/P", "http://User@host:80/P"),
        # Escapes that keep their meaning stay, in upper case; text is decoded.
        ("pol://items/a%3fb", "pol://items/a%3Fb"),
        ("file:///a%20b", "file:///a%20b"),
        ("file:///caf%c3%a9", "file:///café"),
        ("file:///%ff%41", "file:///%FFA"),
        ("file:///%e2%80%8b", "file:///%E2%80%8B"),  # a zero-width space stays escaped
        # Query and fragment are not paths: escaped separators keep their meaning there.
        ("pol://items/x?next=%2Fa%2e#%7e", "pol://items/x?next=%2Fa.#~"),
        # No climbing above the root; a trailing `..` names the directory.
        ("file:///../../etc/passwd", "file:///etc/passwd"),
        ("file:///a/b/..", "file:///a/"),
        ("urn:example:a/./b", "urn:example:a/b"),
        ("no-scheme/./x", "no-scheme/./x"),
        ("file:///plain.txt", "file:///plain.txt"),
    ],
)
def test_normal_form(raw: str, normal: str) -> None:
    assert normalize(raw) == normal


@pytest.mark.parametrize(
    "raw",
    ["file:///public%2F..%2Fprivate/key.txt", "file:///a%5C..%5Cb", "file:///key.txt%00.md"],
)
def test_escaped_separator_or_nul_in_a_path_is_refused(raw: str) -> None:
    with pytest.raises(McpError) as caught:
        normalize(raw)
    assert caught.value.code == codes.INVALID_PARAMS


def test_remove_dot_segments_follows_rfc_3986_examples() -> None:
    assert remove_dot_segments("/a/b/c/./../../g") == "/a/g"
    assert remove_dot_segments("mid/content=5/../6") == "mid/6"


_URI_TEXT = st.text(alphabet="abAB/.%2eEfF0-~:?#@+", max_size=40)


@given(st.sampled_from(["file:///", "pol://Items/", "urn:x:", "FILE://localhost/"]), _URI_TEXT)
def test_normal_form_is_a_fixed_point(prefix: str, rest: str) -> None:
    try:
        once = normalize(prefix + rest)
    except McpError:
        return
    assert normalize(once) == once
    path = once.split("?")[0].split("#")[0]
    assert "/../" not in path and "/./" not in path
