"""The routed requests that read from a service: `prompts/get`, `resources/read` (through the
read cache, when the config has one) and `completion/complete`.

Each is checked by the dispatcher's policy and rate limits (handed in as callables, so a config
reload that replaces the rules or limits is seen at once), forwarded to the service that owns
it, and its result renamed into the gateway's names.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from micro_mcp import codes
from micro_mcp.errors import McpError
from micro_mcp.gateway.core import relay
from micro_mcp.gateway.core.authorization import Authorizer
from micro_mcp.gateway.core.cache import ReadCache
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.policy.rules import Kind
from micro_mcp.protocol import jsonrpc
from micro_mcp.protocol.versions import Era
from micro_mcp.registry.catalog import Route


class Reads:
    """Prompts, resource reads and completions, routed to their services."""

    def __init__(
        self,
        mesh: Mesh,
        authorize: Authorizer,
        limit: Callable[[Exchange, Route], Awaitable[None]],
        cache: ReadCache | None,
        screen: Callable[[Exchange, Route, dict[str, Any]], Awaitable[dict[str, Any]]],
    ) -> None:
        self.mesh = mesh
        self.authorize = authorize
        self.limit = limit
        self.cache = cache
        self.screen = screen
        """The guardrails' check of a result (the dispatcher's, which a reload swaps)."""

    async def get_prompt(self, ex: Exchange) -> dict[str, Any]:
        """`prompts/get`, its messages' content renamed."""
        name = ex.string("name")
        route = self.authorize(
            ex,
            self.mesh.catalog.prompt(name),
            f"Unknown prompt: {name}",
            kind="prompts",
            args=ex.params.get("arguments"),
        )
        await self.limit(ex, route)
        service, result = await relay.forward_routed(self.mesh, ex, route, "name", route.name)
        result = await self.screen(ex, route, result)
        messages = jsonrpc.as_array(result.get("messages"))
        if messages is not None:
            service.namer.rewrite_content([m.get("content") for m in jsonrpc.objects_in(messages)])
        return result

    async def read_resource(self, ex: Exchange) -> dict[str, Any]:
        """`resources/read`, from the cache while a cacheable result is fresh."""
        uri = ex.string("uri")
        route = self.authorize(
            ex, self.mesh.catalog.resource(uri), f"Unknown resource: {uri}", kind="resources"
        )
        await self.limit(ex, route)
        principal = ex.client.principal
        assert principal is not None
        if self.cache is not None:
            cached = self.cache.get(route.namespace, route.name, principal.name)
            if cached is not None:
                return cached
        service, result = await relay.forward_routed(self.mesh, ex, route, "uri", route.name)
        result = await self.screen(ex, route, result)  # before the cache keeps it
        contents = jsonrpc.as_array(result.get("contents"))
        if contents is not None:
            namer = service.namer
            for item in jsonrpc.objects_in(contents):
                if isinstance(item.get("uri"), str):
                    item["uri"] = namer.uri(item["uri"])
        session = service.session
        if self.cache is not None and session is not None and session.era is Era.MODERN:
            self.cache.put(route.namespace, route.name, principal.name, result)
        return result

    async def complete(self, ex: Exchange) -> dict[str, Any]:
        """`completion/complete` of a prompt's or resource template's argument."""
        ref = ex.params.get("ref")
        catalog = self.mesh.catalog
        kind: Kind
        match ref:
            case {"type": "ref/prompt", "name": str() as name}:
                kind, key, found, unknown = "prompts", "name", catalog.prompt(name), name
            case {"type": "ref/resource", "uri": str() as uri}:
                kind, key, found, unknown = "resources", "uri", catalog.resource(uri), uri
            case _:
                raise McpError(
                    "ref must be a ref/prompt with a name or a ref/resource with a uri",
                    code=codes.INVALID_PARAMS,
                )
        what = "prompt" if kind == "prompts" else "resource"
        route = self.authorize(ex, found, f"Unknown {what}: {unknown}", kind=kind, invoked=False)
        upstream_ref = {**ref, key: route.name}
        _, result = await relay.forward_routed(self.mesh, ex, route, "ref", upstream_ref)
        return result
