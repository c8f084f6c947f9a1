"""The record of a handshake-era HTTP session in the store replicas share: what a replica
needs to serve a session it did not open (see `shared_sessions`), as JSON; and the ids of the
gateway's requests to a shared session's client, which name the replica waiting for the
answer. Pure."""

from __future__ import annotations

from typing import cast

import orjson

from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.fronts.http_sessions import HttpSession
from micro_mcp.policy.model import Principal
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.jsonrpc import Message, RequestId
from micro_mcp.protocol.versions import Era

Snapshot = tuple[str | None, str, frozenset[str]]
"""What of a client can change after `initialize`: version, log level, subscriptions."""


def snapshot(client: ClientSession) -> Snapshot:
    """What of `client` the record holds that can change after `initialize`."""
    return client.version, client.log_level, frozenset(client.subscriptions)


def record(session: HttpSession) -> bytes:
    """The record of `session` as the store keeps it."""
    client = session.client
    return orjson.dumps(
        {
            "principal": session.principal.name,
            "opened": session.opened,
            "profile": client.profile,
            "client": client.id,
            "era": client.era.value if client.era is not None else None,
            "version": client.version,
            "capabilities": client.capabilities,
            "clientInfo": client.client_info,
            "logLevel": client.log_level,
            "subscriptions": sorted(client.subscriptions),
        }
    )


def restore(
    raw: bytes, session_id: str, principal: Principal, into: HttpSession | None = None
) -> HttpSession | None:
    """The session a record describes, for `principal` (`into`, a copy held here, brought up
    to date: its log level, and subscriptions made elsewhere; else a new one); None when the
    record is not that principal's (or unreadable): the caller answers as for an id that does
    not exist."""
    try:
        fields = jsonrpc.as_object(orjson.loads(raw)) or {}
    except orjson.JSONDecodeError:
        return None
    capabilities = jsonrpc.as_object(fields.get("capabilities"))
    client_info = jsonrpc.as_object(fields.get("clientInfo"))
    uris: object = fields.get("subscriptions")
    match fields:
        case {
            "principal": str() as name,
            "opened": float() as opened,
            "profile": str() | None as profile,
            "client": str() as client_id,
            "era": "handshake" | None as era,  # a record is written for the handshake era only
            "version": str() | None as version,
            "logLevel": str() as log_level,
        } if (
            name == principal.name
            and capabilities is not None
            and client_info is not None
            and isinstance(uris, list)
        ):
            subscribed = {uri for uri in cast("list[object]", uris) if isinstance(uri, str)}
            if into is not None:
                # Only what requests elsewhere change; subscriptions only grow here, in place,
                # as a request of this copy may be adding one right now.
                into.client.log_level = log_level
                into.client.subscriptions |= subscribed
                return into
            session = HttpSession(principal, session_id)
            session.opened = opened
            client = session.client
            client.profile, client.id, client.version = profile, client_id, version
            client.era = Era(era) if era is not None else None
            client.capabilities, client.client_info = capabilities, client_info
            client.log_level = log_level
            client.subscriptions = subscribed
            return session
        case _:
            return None


def global_id(replica: str, request_id: RequestId) -> str:
    """The id a request of replica `replica`'s goes to the client with."""
    return f"{replica}:{orjson.dumps(request_id).decode()}"


def local_id(global_id: object) -> tuple[str, RequestId] | None:
    """The replica and its own id that a client's answer names, or None for another id."""
    if not isinstance(global_id, str):
        return None
    replica, sep, rest = global_id.partition(":")
    try:
        request_id: object = orjson.loads(rest) if sep and replica else None
    except orjson.JSONDecodeError:
        return None
    return (replica, request_id) if jsonrpc.is_request_id(request_id) else None


def cancelled_globally(replica: str, message: Message) -> Message:
    """The gateway's cancellation of its request to the client, with the id the client knows."""
    params = jsonrpc.as_object(message.get("params")) or {}
    request_id = params.get("requestId")
    if not jsonrpc.is_request_id(request_id):
        return message
    return {**message, "params": {**params, "requestId": global_id(replica, request_id)}}
