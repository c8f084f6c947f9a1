"""The `/admin` page in a real headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import Page, async_playwright

from tests.e2e.conftest import demo, http_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

REPO = Path(__file__).resolve().parents[2]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
"""Debian's browser (scripts/test installs it): Playwright's own browser download is not used."""
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OPERATOR = "operator-token-0123456789abcdef"
CONFIG = {"telemetry": {"operatorToken": OPERATOR}}


async def _call_echo(url: str) -> None:
    call: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
            "name": "demo.echo",
            "arguments": {"text": "hello"},
        },
    }
    headers = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "demo.echo",
    }
    async with httpx2.AsyncClient(timeout=20) as http:
        reply = (await http.post(url, json=call, headers=headers)).json()
    assert reply["result"]["content"][0]["text"] == "hello"


async def test_admin_page_shows_the_services_and_refreshes_itself(tmp_path: Path) -> None:
    services = {"demo": demo(), "gone": {"command": "no-such-command-anywhere"}}
    async with http_gateway(tmp_path, services, CONFIG) as url, async_playwright() as driver:
        base = url.removesuffix("/mcp")
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{base}/admin#token={OPERATOR}")
            demo_row = page.locator('tr[data-service="demo"]')
            await demo_row.locator('[data-field="state"]', has_text="ready").wait_for(
                timeout=20_000
            )
            failed = page.locator('tr[data-service="gone"] [data-field="state"]')
            assert await failed.text_content() in ("restarting", "failed")
            assert await demo_row.locator('[data-field="calls"]').text_content() == "0"
            assert page.url == f"{base}/admin"  # the token left the address bar

            # A call made after the page loaded shows up without reloading it.
            await _call_echo(url)
            calls = demo_row.locator('[data-field="calls"]')
            await page.wait_for_function(
                "() => document.querySelector("
                "'tr[data-service=\"demo\"] [data-field=\"calls\"]').textContent === '1'",
                timeout=20_000,
            )
            assert await calls.text_content() == "1"
            assert int(await page.locator("body").get_attribute("data-refreshes") or 0) >= 2
            summary = await page.locator("#summary").text_content()
            assert summary is not None and "http" in summary and "tools" in summary

            # Without the token the page loads, shows no data, and says what is missing.
            stranger = await browser.new_page()
            await stranger.goto(f"{base}/admin")
            problem = stranger.locator("#problem")
            await problem.wait_for(state="visible", timeout=20_000)
            assert "operator token" in (await problem.text_content() or "")
            assert await stranger.locator("tr[data-service]").count() == 0
        finally:
            await browser.close()


SCREENSHOTS = Path(os.environ.get("MICRO_MCP_SCREENSHOTS", REPO / ".cache" / "screenshots"))
"""Where the console test leaves its screenshots for reviewers (`.cache/` is not committed)."""


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


async def _playground_call(page: Page, tool: str, fields: dict[str, str]) -> str:
    """Pick `tool` in the playground, fill its form, call it; the result's text."""
    await page.select_option("#tool", tool)
    for name, value in fields.items():
        await page.fill(f'#fields [name="{name}"]', value)
    await page.evaluate("document.getElementById('result').removeAttribute('data-outcome')")
    await page.click("#call")
    await page.locator("#result[data-outcome]").wait_for(timeout=20_000)
    return await page.locator("#result").text_content() or ""


async def test_admin_console_calls_a_tool_from_its_form_tails_the_audit_and_restarts_a_service(
    tmp_path: Path, screenshots: Path
) -> None:
    async with (
        http_gateway(tmp_path, {"demo": demo()}, CONFIG) as url,
        async_playwright() as driver,
    ):
        base = url.removesuffix("/mcp")
        browser = await driver.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_FLAGS)
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1000})
            await page.goto(f"{base}/admin#token={OPERATOR}")

            # The catalog per service, each tool with its input schema.
            echo = page.locator('#catalog [data-tool="demo.echo"]')
            await echo.wait_for(timeout=20_000)
            schema = await echo.locator("pre").text_content() or ""
            assert json.loads(schema)["required"] == ["text"]

            # A form built from the schema calls the tool through the gateway.
            answer = await _playground_call(page, "demo.echo", {"text": "from the browser"})
            assert answer == "from the browser"
            assert await page.locator("#result").get_attribute("data-outcome") == "ok"
            await page.screenshot(path=str(screenshots / "admin-playground.png"), full_page=True)

            # The call shows in the audit tail, made as the operator.
            reply = page.locator('#audit-rows tr[data-event="reply"][data-name="demo.echo"]')
            await reply.first.wait_for(timeout=20_000)
            assert "operator" in (await reply.first.text_content() or "")

            # Restart: the service comes back as a new process.
            before = await _playground_call(page, "demo.pid", {})
            await page.click('tr[data-service="demo"] button[data-action="restart"]')
            await page.locator("#action-result", has_text="demo: ready").wait_for(timeout=30_000)
            after = await _playground_call(page, "demo.pid", {})
            assert before.isdigit() and after.isdigit() and before != after

            # Disable: the service stops and its tools leave the catalog.
            await page.click('tr[data-service="demo"] button[data-action="disable"]')
            await page.locator("#action-result", has_text="demo: disabled").wait_for(timeout=30_000)
            await page.locator('#catalog [data-tool="demo.echo"]').wait_for(
                state="detached", timeout=20_000
            )
            await page.screenshot(path=str(screenshots / "admin-disabled.png"), full_page=True)
        finally:
            await browser.close()


async def test_console_actions_need_the_operator_token_json_and_the_pages_own_origin(
    tmp_path: Path,
) -> None:
    async with http_gateway(tmp_path, {"demo": demo()}, CONFIG) as url:
        base = url.removesuffix("/mcp")
        call = {"name": "demo.echo", "arguments": {"text": "x"}}
        operator = {"Authorization": f"Bearer {OPERATOR}"}
        async with httpx2.AsyncClient(timeout=20) as http:
            anonymous = await http.post(f"{base}/admin/call", json=call)
            plain = await http.post(
                f"{base}/admin/call",
                content=json.dumps(call),
                headers={**operator, "Content-Type": "text/plain"},
            )
            elsewhere = await http.post(
                f"{base}/admin/call",
                json=call,
                headers={**operator, "Origin": "http://localhost:1"},
            )
            done = await http.post(f"{base}/admin/call", json=call, headers=operator)
            catalog = (await http.get(f"{base}/admin/catalog", headers=operator)).json()
            unknown = await http.post(
                f"{base}/admin/restart", json={"service": "nope"}, headers=operator
            )
    assert anonymous.status_code == 401
    assert plain.status_code == 415
    assert elsewhere.status_code == 403
    assert done.json()["result"]["content"][0]["text"] == "x"
    (service,) = catalog["services"]
    assert service["namespace"] == "demo" and "demo.echo" in {t["name"] for t in service["tools"]}
    assert unknown.status_code == 404
