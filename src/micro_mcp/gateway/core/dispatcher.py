"""The client-facing side of the gateway: what each MCP method does, and the one error boundary.

Every request from a client passes through `Dispatcher.handle_request`, which checks the
protocol era, authentication and policy, routes, writes the audit trail, and turns every
exception into a JSON-RPC error: `McpError` into its own error object, anything else into
INTERNAL_ERROR with the traceback in the gateway's log and nothing of it on the wire.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import anyio

from micro_mcp import codes
from micro_mcp.audit.keys import AuditKeys
from micro_mcp.audit.sinks import AuditSink
from micro_mcp.config.discovery import DiscoverySpec
from micro_mcp.errors import ConfigError, McpError, Unauthenticated
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.gateway.core import greeting, relay, tasks
from micro_mcp.gateway.core.authorization import authorize
from micro_mcp.gateway.core.cache import ReadCache
from micro_mcp.gateway.core.consent import Consent
from micro_mcp.gateway.core.eras import dress_result, settle_era
from micro_mcp.gateway.core.exchange import Exchange
from micro_mcp.gateway.core.guard import Guard
from micro_mcp.gateway.core.listening import Listening
from micro_mcp.gateway.core.profiles import Profiles
from micro_mcp.gateway.core.rate_limits import RateLimits
from micro_mcp.gateway.core.reads import Reads
from micro_mcp.gateway.core.tasks import TaskOwner, TaskOwners
from micro_mcp.gateway.core.trail import Trail, outcome_of
from micro_mcp.gateway.services.mesh import Mesh
from micro_mcp.policy.rules import Kind, RuleSet, compile_rules
from micro_mcp.protocol import jsonrpc, versions
from micro_mcp.protocol.eras import HANDSHAKE_ONLY, LIST_METHODS
from micro_mcp.protocol.jsonrpc import Message, next_id
from micro_mcp.protocol.versions import Era
from micro_mcp.registry import overrides
from micro_mcp.registry.catalog import Catalog, Route
from micro_mcp.registry.paging import decode_cursor, encode_cursor
from micro_mcp.state.store import Store
from micro_mcp.telemetry.recorder import Recorder

if TYPE_CHECKING:  # imported when discovery is on: it needs the `search` extra (numpy)
    from micro_mcp.gateway.core.discovery import Discovery

logger = logging.getLogger(__name__)


class Dispatcher:
    """Answers client messages on behalf of the mesh."""

    def __init__(
        self,
        mesh: Mesh,
        audit: AuditSink,
        telemetry: Recorder | None = None,
        rate_limits: RateLimits | None = None,
        rules: RuleSet | None = None,
        audit_keys: AuditKeys | None = None,
    ) -> None:
        """`rules` are the config's, compiled; without them they are compiled here.

        Raises:
            ConfigError: a rule's condition does not compile.
        """
        self.mesh = mesh
        if rules is None and mesh.config.rules:
            rules = compile_rules(mesh.config.rules)
        self.rules = rules
        """The config's authorization rules; None when it has none (then nothing is checked)."""
        self.rate_limits = rate_limits
        """The config's rate limits; None when it has none (then a call pays nothing for them)."""
        self.audit = audit
        self.telemetry = telemetry if telemetry is not None else Recorder()
        include = mesh.config.audit.include_arguments
        redact = mesh.config.audit.redact_secrets
        self.trail = Trail(audit, self.telemetry, include, audit_keys, redact)
        self.guard = Guard.of(mesh.config.guardrails, self.trail)
        """The config's guardrails; None without checks (then a call pays nothing for them)."""
        self.consent = Consent(mesh.config.consent, self.trail)
        """Asks before calls that need consent; replace it to seal with a shared key."""
        self.tasks = TaskOwners()
        self.listening = Listening(mesh, self.trail, self.authorize)
        spec = mesh.config.discovery
        self.discovery: Discovery | None = _discovery(spec) if spec.enabled else None
        """The meta-tools (`discovery`); None when off (then listing and calls pay nothing)."""
        config = mesh.config
        self.profiles = Profiles(config.profiles, mesh) if config.profiles else None
        """The config's profiles; None when it has none (then nothing is scoped)."""
        if self.profiles is not None:
            mesh.notifier.scope = self.profiles.may_see
        self.cache: ReadCache | None = None
        """Cacheable `resources/read` results; None unless the config has a `cache` section."""
        if config.cache is not None:
            self.cache = ReadCache(config.cache, on_lookup=self.telemetry.metrics.cache_lookup)
            mesh.notifier.watchers.append(self.cache.forget)
        self.reads = Reads(mesh, self.authorize, self.limit, self.cache, self.screen)
        self._handlers: dict[str, Callable[[Exchange], Awaitable[dict[str, Any]]]] = {
            "initialize": self._initialize,
            "server/discover": self._discover,
            "ping": self._ping,
            "logging/setLevel": self._set_level,
            "tools/list": self._list,
            "prompts/list": self._list,
            "resources/list": self._list,
            "resources/templates/list": self._list,
            "tools/call": self._call_tool,
            "prompts/get": self.reads.get_prompt,
            "resources/read": self.reads.read_resource,
            "completion/complete": self.reads.complete,
            "resources/subscribe": self._subscribe,
            "resources/unsubscribe": self._subscribe,
            **dict.fromkeys(versions.TASK_METHODS, self._task),
        }

    async def share(self, store: Store | None, key: bytes | None = None) -> None:
        """Keep in `store` what the replicas of a deployment must agree on, so a 2026-07-28
        request is served alike by any of them: the key that seals consent states (`key`, or
        one generated by the first replica), approvals and spent consent states, and who owns
        which task. Without a store, only the key is set.

        Raises:
            StateUnavailable: the store cannot be reached.
        """
        self.consent = await Consent.shared(self.mesh.config.consent, self.trail, store, key)
        if store is not None:
            self.tasks = TaskOwners(store)

    # --- the boundary -----------------------------------------------------------------------

    async def handle_request(self, client: ClientSession, message: Message) -> None:
        """Answer one request; never raises for anything the client sent."""
        params: dict[str, Any] = message.get("params") or {}  # decode() allows only an object
        ex = Exchange(
            client, message["id"], message["method"], params, time.perf_counter(), next_id()
        )
        response: Message | None = None  # stays None only when the scope caught a cancellation
        with anyio.CancelScope() as scope:
            client.in_flight[ex.request_id] = scope
            try:
                response = await self._answer(ex)
            finally:
                client.in_flight.pop(ex.request_id, None)
        if scope.cancelled_caught:
            self.trail.reply(ex, "cancelled", None)
            return  # a cancelled request gets no response (MCP cancellation)
        if response is not None:
            # The reply's record is written before the reply leaves (and on disk, with fsync
            # `always`): a client never holds an answer the trail lacks.
            unsettled = await self.trail.settle(ex)
            if unsettled is not None:
                response = jsonrpc.error(ex.request_id, unsettled.to_error())
            await client.send(response, ex.request_id)

    async def _answer(self, ex: Exchange) -> Message | None:
        try:
            if ex.method == "subscriptions/listen":
                await self.listening.listen(ex)
                return None
            result = await self._dispatch(ex)
            response = jsonrpc.result(ex.request_id, dress_result(ex.client.era, ex.method, result))
            outcome, code = "tool_error" if result.get("isError") is True else "ok", None
        except McpError as exc:
            response = jsonrpc.error(ex.request_id, exc.to_error())
            outcome, code = outcome_of(exc), exc.code
        except Exception:  # the one catch-all: the client gets a generic error, the log the trace
            logger.exception("internal error handling %s", ex.method)
            error = {"code": codes.INTERNAL_ERROR, "message": "Internal error in the gateway"}
            response = jsonrpc.error(ex.request_id, error)
            outcome, code = "error", codes.INTERNAL_ERROR
        unrecorded = self.trail.reply(ex, outcome, code)
        if unrecorded is not None:  # failing closed: no answer leaves without its record
            response = jsonrpc.error(ex.request_id, unrecorded.to_error())
        return response

    async def _dispatch(self, ex: Exchange) -> dict[str, Any]:
        settle_era(ex.client, ex.method, ex.params)
        if ex.client.principal is None:
            self.trail.call(ex, "deny")
            raise Unauthenticated(
                f"Unauthenticated: {ex.client.refusal}"
                if ex.client.refusal
                else "Unauthenticated: the gateway requires a token (set MICRO_MCP_TOKEN for stdio)"
            )
        handler = self._handlers.get(ex.method)
        if handler is None or (ex.client.era is Era.MODERN and ex.method in HANDSHAKE_ONLY):
            self.trail.call(ex, None)
            raise McpError(f"Method not found: {ex.method}", code=codes.METHOD_NOT_FOUND)
        if ex.method not in _ROUTED:
            self.trail.call(ex, "allow")
        if not self.mesh.started.is_set() and ex.method != "ping":
            # Answers wait for the catalog while services start; once started (the hot path)
            # there is nothing to wait for, and an awaited set Event would still cost a turn.
            await self.mesh.started.wait()
        return await handler(ex)

    # --- lifecycle --------------------------------------------------------------------------

    async def _initialize(self, ex: Exchange) -> dict[str, Any]:
        return greeting.initialize(ex.client, ex.params, self.mesh.services.values())

    async def _discover(self, ex: Exchange) -> dict[str, Any]:
        return greeting.discover(self.mesh.services.values())

    async def _ping(self, ex: Exchange) -> dict[str, Any]:
        return {}

    async def _set_level(self, ex: Exchange) -> dict[str, Any]:
        return greeting.set_level(ex.client, ex.params)

    # --- catalog ----------------------------------------------------------------------------

    async def _list(self, ex: Exchange) -> dict[str, Any]:
        kind = LIST_METHODS[ex.method]
        cursor = ex.params.get("cursor")
        catalog: Catalog | None = self.mesh.catalog
        offset = 0
        if cursor is not None:
            if not isinstance(cursor, str):
                raise McpError("cursor must be a string", code=codes.INVALID_PARAMS)
            fingerprint, offset = decode_cursor(cursor, kind)
            catalog = self.mesh.snapshot(fingerprint, kind)
            if catalog is None:
                raise McpError(
                    "cursor expired: the catalog changed; list again from the start",
                    code=codes.INVALID_PARAMS,
                )
        items = self._visible(ex, catalog, kind)
        if kind == "tools" and self.discovery is not None:
            items = self.discovery.listing(items)
        size = self.mesh.config.page_size
        result: dict[str, Any] = {kind: items[offset : offset + size]}
        if offset + size < len(items):
            result["nextCursor"] = encode_cursor(catalog.fingerprint(kind), kind, offset + size)
        return result

    def _visible(self, ex: Exchange, catalog: Catalog, kind: str) -> list[dict[str, Any]]:
        """The items of `kind` the client may list (its profile, policy and rules)."""
        principal = ex.client.principal
        assert principal is not None
        view = self.rules.view(principal) if self.rules is not None else None
        profile = self.profiles.of(ex.client) if self.profiles is not None else None
        items = catalog.visible(kind, principal.name, principal.policy, view, profile)
        if self.guard is not None and kind == "tools":
            items = self.guard.listing(ex, catalog, items)
        return items

    # --- routed calls -----------------------------------------------------------------------

    async def _call_tool(self, ex: Exchange) -> dict[str, Any]:
        name = ex.string("name")
        if self.discovery is not None and name in self.discovery.names:
            if name != self.discovery.call_name:  # search or describe: answered here
                self.trail.call(ex, "allow")
                catalog = self.mesh.catalog
                await self.discovery.prepare(catalog)
                visible = self._visible(ex, catalog, "tools")
                return self.discovery.answer(name, ex.params.get("arguments"), catalog, visible)
            ex.params = self.discovery.forwarded(ex.params)  # the call it stands for, routed
            name = ex.params["name"]
        catalog = self.mesh.catalog
        found = catalog.tool(name)
        refused: McpError | None = None
        if catalog.fixed and found is not None and (fixed := catalog.fixed.get(name)):
            try:  # before policy: rules and the audit see the arguments the service gets
                ex.params = overrides.fill(ex.params, fixed)
            except McpError as exc:
                refused = exc
        route = self.authorize(ex, found, f"Unknown tool: {name}", args=ex.params.get("arguments"))
        if refused is not None:
            raise refused
        await self.limit(ex, route)
        if self.guard is not None:  # before consent: no human is asked about a blocked call
            await self.guard.call(ex, catalog, name, route)
        needs_consent = ex.consent_rule is not None or self.consent.required(route)
        if needs_consent and (asked := await self.consent.obtain(ex, route)):
            return asked  # a 2026-07-28 client gets the question; it calls again with the answer
        service, result = await relay.forward_routed(self.mesh, ex, route, "name", route.name)
        result = await self.screen(ex, route, result)
        if ex.consented:
            self.consent.carry(ex, route, result)
        service.namer.rewrite_content(result.get("content"))
        if result.get("resultType") == "task":
            exposed = tasks.expose(service.namer, result)
            principal = ex.client.principal
            if exposed is not None and principal is not None:
                await self.tasks.started(exposed, TaskOwner(principal.name, route.subject))
        return result

    async def _task(self, ex: Exchange) -> dict[str, Any]:
        """tasks/get, tasks/update, tasks/cancel: to the task's service, for its owner only,
        under the policy of the tool that started it."""
        tasks.require_extension(ex.client.capabilities, ex.method)
        exposed = ex.string("taskId")
        found = await self.tasks.route(
            self.mesh.catalog.task(exposed), exposed, ex.client.principal
        )
        route = self.authorize(ex, found, f"Unknown task: {exposed}", invoked=False)
        service, result = await relay.forward_routed(self.mesh, ex, route, "taskId", route.name)
        tasks.expose(service.namer, result)
        return result

    async def _subscribe(self, ex: Exchange) -> dict[str, Any]:
        return await self.listening.subscribe(ex, ex.string("uri"))

    # --- policy and audit -------------------------------------------------------------------

    def authorize(
        self,
        ex: Exchange,
        route: Route | None,
        unknown: str,
        *,
        kind: Kind = "tools",
        args: Any = None,
        invoked: bool = True,
        audit: bool = True,
    ) -> Route:
        """`route`, once the client may use it: inside its profile (outside, the route is as
        unknown as one that does not exist), by its policy, and by the rules, if any."""
        if self.profiles is not None and route is not None:
            profile = self.profiles.of(ex.client)
            if profile is not None and not profile.holds(route.subject):
                route = None
        return authorize(
            self.trail,
            ex,
            route,
            unknown,
            rules=self.rules,
            kind=kind,
            args=args,
            invoked=invoked,
            audit=audit,
        )

    async def screen(self, ex: Exchange, route: Route, result: dict[str, Any]) -> dict[str, Any]:
        """The result as the guardrails leave it, if the config has any.

        Raises:
            GuardrailBlocked: a guardrail blocked it.
        """
        if self.guard is None:
            return result
        return await self.guard.result(ex, route, result)

    async def limit(self, ex: Exchange, route: Route) -> None:
        """Count the request against the rate limits, if the config has any.

        Raises:
            RateLimited: a limit is spent.
            RateLimitUnavailable: the limits' shared store cannot be reached (fail-closed).
        """
        if self.rate_limits is not None:
            await self.rate_limits.check(ex, route)

    # --- notifications ----------------------------------------------------------------------

    async def handle_notification(self, client: ClientSession, message: Message) -> None:
        """Act on a client notification; unknown ones are ignored, as JSON-RPC requires."""
        if message["method"] == "notifications/cancelled":
            params: dict[str, Any] = message.get("params") or {}  # decode() allows only an object
            client.cancel(params.get("requestId"))


_ROUTED: Final = frozenset(
    {
        "tools/call",
        "prompts/get",
        "resources/read",
        "completion/complete",
        "resources/subscribe",
        "resources/unsubscribe",
        *versions.TASK_METHODS,
    }
)


def _discovery(spec: DiscoverySpec) -> Discovery:
    """The meta-tools, imported only when on.

    Raises:
        ConfigError: the `search` extra (bm25s, PyStemmer, numpy) is not installed.
    """
    try:
        from micro_mcp.gateway.core.discovery import Discovery
    except ImportError as exc:
        raise ConfigError(
            f"discovery.enabled needs the `search` extra ({exc.name} is missing): "
            "pip install '.[search]' from the clone"
        ) from exc
    return Discovery(spec)
