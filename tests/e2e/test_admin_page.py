"""The `/admin` page in a real headless Chromium (Debian's `chromium`, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx2
import pytest
from playwright.async_api import async_playwright

from tests.e2e.conftest import demo, http_gateway

pytestmark = [pytest.mark.anyio, pytest.mark.e2e]

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
