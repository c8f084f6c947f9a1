"""The opt-in bubblewrap sandbox: a service sees only the paths and network its entry declares."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from tests.e2e.conftest import FIXTURES, demo, gateway_params

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (bwrap) is not installed"),
]


@pytest.fixture
def port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


async def text(client: Client, name: str, **arguments: Any) -> str:
    result = await client.call_tool(name, arguments)
    assert result.structured_content is not None, result
    return result.structured_content["result"]


async def test_a_sandboxed_service_sees_only_what_its_entry_declares(
    tmp_path: Path, port: int
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "note.txt").write_text("shared note")
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    sandbox = {"readOnly": [str(FIXTURES), "shared"], "readWrite": ["scratch"]}
    services = {"boxed": demo(sandbox=sandbox), "open": demo()}
    async with Client(gateway_params(tmp_path, services), mode="legacy") as client:
        boxed_secret = await text(client, "boxed.peek", path=str(secret))
        open_secret = await text(client, "open.peek", path=str(secret))
        shadow = await text(client, "boxed.peek", path="/etc/shadow")
        note = await text(client, "boxed.peek", path=str(shared / "note.txt"))
        into_shared = await text(client, "boxed.scribble", path=str(shared / "new.txt"))
        into_scratch = await text(client, "boxed.scribble", path=str(scratch / "new.txt"))
        boxed_dial = await text(client, "boxed.dial", port=port)
        open_dial = await text(client, "open.dial", port=port)
    assert boxed_secret.startswith("refused"), boxed_secret
    assert open_secret == "top secret", "the control: outside the sandbox the file is there"
    assert shadow.startswith("refused"), shadow
    assert note == "shared note"
    assert into_shared == "refused: Read-only file system"
    assert not (shared / "new.txt").exists()
    assert into_scratch == "written" and (scratch / "new.txt").read_text() == "scribbled"
    assert boxed_dial.startswith("refused"), boxed_dial
    assert open_dial == "connected"


async def test_a_sandbox_that_allows_the_network_can_connect(tmp_path: Path, port: int) -> None:
    sandbox = {"readOnly": [str(FIXTURES)], "network": True}
    async with Client(gateway_params(tmp_path, {"boxed": demo(sandbox=sandbox)})) as client:
        assert await text(client, "boxed.dial", port=port) == "connected"


async def test_a_sandbox_path_that_does_not_exist_fails_that_service_alone(
    tmp_path: Path,
) -> None:
    broken = demo(sandbox={"readOnly": ["missing"]}, maxRestarts=0)
    params = gateway_params(tmp_path, {"broken": broken, "fine": demo()})
    async with Client(params, mode="legacy") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert await text(client, "fine.echo", text="up") == "up"
    assert "fine.echo" in names and "broken.echo" not in names
