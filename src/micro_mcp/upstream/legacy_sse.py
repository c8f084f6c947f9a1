"""A service on the HTTP+SSE transport of MCP 2024-11-05 (manifest `"type": "sse"`, or the
fallback when a URL does not speak Streamable HTTP).

A GET opens the event stream; its first event, `endpoint`, names where to POST messages. Every
reply and notification comes back on that one stream. The transport only carries the
handshake era.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import aclosing
from typing import Any
from urllib.parse import urljoin, urlsplit

import anyio
from anyio.abc import TaskStatus

from micro_mcp import codes
from micro_mcp.config.model import ServiceSpec
from micro_mcp.errors import McpError, MessageTooLarge, UpstreamUnavailable
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.transport import sse
from micro_mcp.upstream._client import client_session, event_response, opened
from micro_mcp.upstream.events import read_events
from micro_mcp.upstream.session import SessionHandler, UpstreamSession

logger = logging.getLogger(__name__)


async def run_sse_service(
    namespace: str,
    spec: ServiceSpec,
    handler: SessionHandler,
    on_session: Any,
    *,
    headers: Mapping[str, str],
    max_message_bytes: int,
    task_status: TaskStatus[UpstreamSession] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Connect to the service's event stream, hand its session to `on_session`, serve.

    Raises:
        McpError: the stream could not be opened, named no endpoint, or the handshake failed.
    """
    assert spec.url is not None, "SSE services have a url"  # checked by ServiceSpec
    url = spec.url
    endpoint: list[str] = []
    found = anyio.Event()

    async def send(message: Message) -> None:
        headers = {"content-type": "application/json"}
        try:
            async with opened(http, "POST", endpoint[0], headers, jsonrpc.encode(message)) as got:
                status = got.status
        except UpstreamUnavailable as exc:
            raise McpError(f"service {namespace!r} is unreachable: {exc}") from exc
        if status >= 400 and jsonrpc.is_request(message):
            error = {"code": codes.UPSTREAM_UNAVAILABLE, "message": f"HTTP {status}"}
            session.fail(message["id"], error)

    async def read_stream() -> None:
        headers = {"accept": sse.CONTENT_TYPE}
        ended = "its event stream ended"
        try:
            async with opened(http, "GET", url, headers) as response:
                if response.status != 200:
                    raise McpError(f"service {namespace!r}: GET {url} answered {response.status}")
                source = read_events(event_response(response), max_message_bytes)
                async with aclosing(source) as events:
                    async for event in events:
                        await on_event(event.event, event.data)
        except UpstreamUnavailable as exc:
            raise UpstreamUnavailable(f"service {namespace!r}: {exc}") from exc
        except MessageTooLarge as exc:
            # The one stream carries every reply and cannot be read past the event, whose
            # request id was never seen: every waiting request fails, and the session with them.
            logger.error("service %s sent %s; its session ends", namespace, exc)
            ended = f"it sent {exc}"
            raise
        finally:
            session.close(ended)

    async def on_event(kind: str, data: str) -> None:
        if not data:
            return  # an event with no data (an id alone, say): nothing to read
        if kind == "endpoint":
            target = urljoin(url, data.strip())
            if urlsplit(target).netloc != urlsplit(url).netloc:
                raise McpError(f"service {namespace!r} named a foreign endpoint {target!r}")
            endpoint.append(target)
            found.set()
        else:
            try:
                await session.receive(jsonrpc.decode(data))
            except McpError as exc:
                logger.warning("service %s sent a bad message (%s)", namespace, exc)

    async with client_session(url, headers) as http, anyio.create_task_group() as tg:
        session = UpstreamSession(namespace, send, handler)
        tg.start_soon(read_stream)
        try:
            with anyio.fail_after(spec.startup_timeout):
                await found.wait()
                await session.handshake("handshake", spec.startup_timeout)
                await on_session(session)
        except TimeoutError:
            raise McpError(f"service {namespace!r} did not finish starting in time") from None
        task_status.started(session)
        await anyio.sleep_forever()
