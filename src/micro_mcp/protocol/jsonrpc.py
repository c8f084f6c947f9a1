"""JSON-RPC 2.0 envelopes as plain dicts: decode once, classify, build replies.

The gateway forwards payloads it does not own, so messages stay `dict[str, Any]` from the wire to
the wire; only the envelope fields routing needs are checked here. orjson does the parsing in one
pass; re-validating every forwarded result into pydantic models would cost more than the hop.
"""

from __future__ import annotations

import itertools
from typing import Any, Final, TypeGuard, cast

import orjson

from micro_mcp import codes
from micro_mcp.errors import McpError

RequestId = int | str
Message = dict[str, Any]

VERSION: Final = "2.0"
MAX_DEPTH: Final = 64
"""How deep objects and arrays may nest in a request's or notification's `params` (the params
object itself is level 1); deeper ones are refused at decode with INVALID_PARAMS. orjson reads
1024 levels but writes only 255, pydantic's parser (the Python SDK's, so many services') stops
at 200: without a limit, a message the gateway took could not be forwarded, audited or
answered. 64 is far beyond any tool schema seen and within every encoder on the path."""

_ids = itertools.count(1)


def next_id() -> int:
    """A request id unique across every request the gateway sends, to services or clients."""
    return next(_ids)


def decode(raw: bytes | str) -> Message:
    """Parse one JSON-RPC message and check its envelope.

    Raises:
        McpError: PARSE_ERROR for bytes that are not JSON, INVALID_REQUEST for JSON that is not
            one JSON-RPC 2.0 message (batches included: no MCP version we serve needs them on
            a single-client stream, and 2025-06-18 removed them), INVALID_PARAMS for `params`
            nested deeper than `MAX_DEPTH`.
    """
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise McpError(
            "Parse error: the message is not valid JSON", code=codes.PARSE_ERROR
        ) from exc
    envelope = as_object(message)
    if envelope is None:
        what = "a batch (JSON array)" if isinstance(message, list) else "not a JSON object"
        raise McpError(f"Invalid request: {what}", code=codes.INVALID_REQUEST)
    check_envelope(envelope)
    return envelope


def salvage_id(raw: bytes | str) -> RequestId | None:
    """The id of a message `decode` refused, when it has a usable one, so the error names it."""
    try:
        message = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    envelope = as_object(message)
    request_id = envelope.get("id") if envelope is not None else None
    return request_id if is_request_id(request_id) else None


def check_envelope(message: Message) -> None:
    """Raise INVALID_REQUEST unless `message` is a request, notification or response.

    Raises:
        McpError: INVALID_REQUEST, naming what is wrong.
    """
    if message.get("jsonrpc") != VERSION:
        raise McpError('Invalid request: "jsonrpc" must be "2.0"', code=codes.INVALID_REQUEST)
    if "method" in message:
        if not isinstance(message["method"], str):
            raise McpError('Invalid request: "method" must be a string', code=codes.INVALID_REQUEST)
        params = message.get("params")
        if params is not None and not isinstance(params, dict):
            raise McpError(
                'Invalid request: "params" must be an object', code=codes.INVALID_REQUEST
            )
        if "id" in message and not is_request_id(message["id"]):
            raise McpError(
                'Invalid request: "id" must be a string or an integer', code=codes.INVALID_REQUEST
            )
        if nests_deeper(message.get("params"), MAX_DEPTH):
            raise McpError(
                f"Invalid params: nested deeper than {MAX_DEPTH} levels", code=codes.INVALID_PARAMS
            )
        return
    if "id" in message and ("result" in message or "error" in message):
        # An error about an unreadable request may carry a null id; anything else must be an id
        # we could have sent, or `True` would answer request 1.
        if is_request_id(message["id"]) or (message["id"] is None and "error" in message):
            return
        raise McpError(
            'Invalid response: "id" must be a string or an integer', code=codes.INVALID_REQUEST
        )
    raise McpError(
        "Invalid request: neither a request, a notification nor a response",
        code=codes.INVALID_REQUEST,
    )


def nests_deeper(value: object, limit: int) -> bool:
    """Whether objects and arrays nest more than `limit` levels in `value` (itself level 1).

    Level by level, so the cost is one `isinstance` per item of the containers in `value`, and
    nothing for a value with none: `params` is walked, never a whole reply (a large result would
    cost about as much to walk as to parse).
    """
    level: list[Any] = [value] if isinstance(value, dict | list) else []
    for _ in range(limit):
        below: list[Any] = []
        for node in level:
            items = cast("dict[str, Any]", node).values() if isinstance(node, dict) else node
            below += [item for item in items if isinstance(item, dict | list)]
        if not below:
            return False
        level = below
    return bool(level)


def as_object(value: object) -> dict[str, Any] | None:
    """`value` if it is a JSON object, else None.

    A bare `isinstance(value, dict)` leaves keys and values unknown to the type checker; parsed
    JSON only has string keys, so this is the one place that says so.
    """
    return cast("dict[str, Any]", value) if isinstance(value, dict) else None


def as_array(value: object) -> list[Any] | None:
    """`value` if it is a JSON array, else None."""
    return cast("list[Any]", value) if isinstance(value, list) else None


def objects_in(value: object) -> list[dict[str, Any]]:
    """The JSON objects among the items of `value` when it is an array; other items are skipped."""
    items = as_array(value) or []
    return [item for item in items if isinstance(item, dict)]


def is_request_id(value: object) -> TypeGuard[RequestId]:
    """True for a JSON-RPC request id we accept: a string or an integer, never a bool."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def is_request(message: Message) -> bool:
    """True for a request (a method and an id)."""
    return "method" in message and "id" in message


def is_notification(message: Message) -> bool:
    """True for a notification (a method, no id)."""
    return "method" in message and "id" not in message


def encode(message: Message) -> bytes:
    """Serialize one message as a single line of UTF-8 JSON, newline included."""
    return orjson.dumps(message, option=orjson.OPT_APPEND_NEWLINE)


def request(request_id: RequestId, method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a request envelope."""
    message: Message = {"jsonrpc": VERSION, "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method: str, params: dict[str, Any] | None = None) -> Message:
    """Build a notification envelope."""
    message: Message = {"jsonrpc": VERSION, "method": method}
    if params is not None:
        message["params"] = params
    return message


def result(request_id: RequestId | None, value: dict[str, Any]) -> Message:
    """Build a success response."""
    return {"jsonrpc": VERSION, "id": request_id, "result": value}


def error(request_id: RequestId | None, error_object: dict[str, Any]) -> Message:
    """Build an error response from an error object (`code`, `message`, optional `data`)."""
    return {"jsonrpc": VERSION, "id": request_id, "error": error_object}
