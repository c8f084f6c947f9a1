"""`micro-mcp tools | call | read | prompts | resources` as real processes, against a gateway they
start from a manifest (`--discovery`) or one already serving over HTTP (`--url`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from micro_mcp import codes
from tests.e2e.conftest import demo, free_port, http_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

TOKEN = "s3cret-token-0123456789"


async def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `micro-mcp ARGS`; its exit code, stdout and stderr."""
    base = {k: v for k, v in os.environ.items() if k != "MICRO_MCP_TOKEN"}
    with anyio.fail_after(120):
        done = await anyio.run_process(
            [sys.executable, "-m", "micro_mcp", *args],
            env={**base, **(env or {})},
            check=False,
            stdin=subprocess.DEVNULL,
        )
    return done.returncode, done.stdout.decode(), done.stderr.decode()


def manifest(tmp_path: Path, config: dict[str, object] | None = None) -> list[str]:
    """The `--discovery` (and `--config`) options for a gateway over the demo service."""
    path = tmp_path / "services.json"
    path.write_text(json.dumps({"mcpServers": {"one": demo()}}))
    options = ["--discovery", str(path)]
    if config is not None:
        (tmp_path / "gateway.json").write_text(json.dumps(config))
        options += ["--config", str(tmp_path / "gateway.json")]
    return options


async def test_list_call_read_and_prompts_through_a_gateway_started_from_a_manifest(
    tmp_path: Path,
) -> None:
    where = manifest(tmp_path)
    code, out, _ = await cli("tools", *where, "--json")
    assert code == 0
    tools = {tool["name"]: tool for tool in json.loads(out)}
    assert tools["one.echo"]["inputSchema"]["required"] == ["text"]

    code, out, _ = await cli("tools", *where)
    assert code == 0
    echo_row = next(line for line in out.splitlines() if "one.echo" in line)
    assert "text*: string" in echo_row and "Return the text unchanged." in echo_row

    assert await cli("call", "one.echo", '{"text": "hello there"}', *where) == (
        0,
        "hello there\n",
        "",
    )
    code, out, _ = await cli("read", "one+demo://static", *where)
    assert (code, out) == (0, "hello from demo\n")

    code, out, _ = await cli("prompts", *where, "--json")
    assert code == 0
    (greet,) = json.loads(out)
    assert greet["name"] == "one.greet" and greet["arguments"][0]["name"] == "person"

    code, out, _ = await cli("resources", *where)
    assert code == 0 and "one+demo://static" in out and "one+demo://item/{item_id}" in out


async def test_errors_from_the_gateway_and_bad_arguments_exit_non_zero(tmp_path: Path) -> None:
    where = manifest(tmp_path)
    code, _, err = await cli("call", "one.nothing", "{}", *where)
    assert code == 1 and f"error {codes.INVALID_PARAMS}" in err
    code, _, err = await cli("call", "one.echo", "[1, 2]", *where)
    assert code == 2 and "must be a JSON object" in err
    code, _, err = await cli("call", "one.echo", "{not json", *where)
    assert code == 2 and "not JSON" in err


async def test_a_gateway_started_from_a_manifest_takes_the_token_from_the_environment(
    tmp_path: Path,
) -> None:
    where = manifest(tmp_path, {"token": TOKEN})
    code, _, err = await cli("tools", *where)
    assert code == 1
    assert "refused the token" in err and "MICRO_MCP_TOKEN is not set" in err
    code, out, _ = await cli(
        "call", "one.echo", '{"text": "in"}', *where, env={"MICRO_MCP_TOKEN": TOKEN}
    )
    assert (code, out) == (0, "in\n")


async def test_a_manifest_the_gateway_cannot_load_is_shown_with_the_gateways_own_message(
    tmp_path: Path,
) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"mcpServers": {"x": {}}}))
    code, _, err = await cli("tools", "--discovery", str(broken))
    assert code == 1
    assert "stopped before it answered" in err
    assert "give exactly one of 'command'" in err


async def test_a_running_http_gateway_is_reached_by_url_with_a_token_and_refuses_a_wrong_one(
    tmp_path: Path,
) -> None:
    async with http_gateway(tmp_path, {"one": demo()}, {"token": TOKEN}) as url:
        bare = url.removesuffix("/mcp")  # the address alone, as `status --url` takes it
        code, out, _ = await cli("tools", "--url", bare, "--token", TOKEN, "--json")
        assert code == 0 and "one.echo" in {tool["name"] for tool in json.loads(out)}
        ran = await cli(
            "call", "one.echo", '{"text": "x"}', "--url", url, env={"MICRO_MCP_TOKEN": TOKEN}
        )
        assert ran == (0, "x\n", "")
        code, _, err = await cli("tools", "--url", url, "--token", "wrong-token-0123456789")
        assert code == 1 and f"{url} refused the token" in err
        code, _, err = await cli("prompts", "--url", url)
        assert code == 1 and "refused the token" in err


async def test_a_gateway_that_is_not_running_is_named_with_how_to_start_one() -> None:
    url = f"http://127.0.0.1:{free_port()}/mcp"
    code, out, err = await cli("tools", "--url", url)
    assert (code, out) == (1, "")
    assert f"cannot reach a gateway at {url}" in err and "micro-mcp gateway" in err
