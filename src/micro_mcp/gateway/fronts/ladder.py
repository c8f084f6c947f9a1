"""The 2026-07-28 request ladder: what refuses a request before it is dispatched.

The official SDK's ladder (`mcp.shared.inbound`) checks the `_meta` envelope against the
`Mcp-Method`, `Mcp-Name` and `MCP-Protocol-Version` headers, so the rules are the spec's; the
gateway adds what the SDK's ladder cannot know: a repeated routing header, a task named by its
`taskId`, and `Mcp-Param-*` headers checked against the routed tool's input schema. A refusal
maps to its HTTP status (404 unknown method, 400 otherwise).
"""

from __future__ import annotations

from typing import Any

from mcp.shared.inbound import (
    ERROR_CODE_HTTP_STATUS,
    InboundLadderRejection,
    classify_inbound_request,
    decode_header_value,
    find_duplicated_routing_header,
    validate_mcp_param_headers,
)
from starlette.datastructures import Headers

from micro_mcp import codes
from micro_mcp.gateway.fronts.asgi import JSON_HEADERS, Send, reply
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.eras import HANDSHAKE_ONLY
from micro_mcp.protocol.jsonrpc import Message
from micro_mcp.registry.catalog import Catalog


def rejection(
    headers: Headers, message: Message, catalog: Catalog
) -> InboundLadderRejection | None:
    """Why a 2026-07-28 request is refused before dispatch, if it is: the spec's ladder."""
    method = message.get("method")
    if method in HANDSHAKE_ONLY:
        return InboundLadderRejection(codes.METHOD_NOT_FOUND, f"Method not found: {method}")
    duplicated = find_duplicated_routing_header(headers.items())
    if duplicated is not None:
        return InboundLadderRejection(codes.HEADER_MISMATCH, f"{duplicated} header repeated")
    verdict = classify_inbound_request(message, headers=dict(headers.items()))
    if isinstance(verdict, InboundLadderRejection):
        return verdict
    params = jsonrpc.as_object(message.get("params")) or {}
    # The SDK's ladder knows the base protocol's names only; a task is named by its taskId.
    named = headers.get("mcp-name")
    if (
        method in versions.TASK_METHODS
        and named is not None
        and decode_header_value(named) != params.get("taskId")
    ):
        mismatch = "Mcp-Name header does not match the request body's 'taskId'"
        return InboundLadderRejection(codes.HEADER_MISMATCH, mismatch)
    name = params.get("name")
    if method == "tools/call" and isinstance(name, str):
        tool = catalog.tool_item(name)
        arguments = jsonrpc.as_object(params.get("arguments")) or {}
        if tool is not None:
            return validate_mcp_param_headers(tool.get("inputSchema"), arguments, headers)
    return None


async def refuse(send: Send, message: Message, rejection: InboundLadderRejection) -> None:
    """Answer a refused request with its JSON-RPC error, under the HTTP status it maps to."""
    error: dict[str, Any] = {"code": rejection.code, "message": rejection.message}
    if rejection.data is not None:
        error["data"] = rejection.data
    body = jsonrpc.encode(jsonrpc.error(message.get("id"), error))
    await reply(send, ERROR_CODE_HTTP_STATUS.get(rejection.code, 400), body, JSON_HEADERS)
