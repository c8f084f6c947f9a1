"""Validated shapes of the discovery manifest and the gateway config.

The manifest keeps the format MCP users already write for Claude Desktop, Cursor and VS Code
(`{"mcpServers": {"fs": {"command": ..., "args": [...], "env": {...}}}}`); micro-mcp's own
per-service options sit beside those keys. Unknown keys are refused, so a typo is an error at
start rather than a silently ignored option.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from micro_mcp.config.consent import ConsentSpec
from micro_mcp.config.discovery import DiscoverySpec
from micro_mcp.config.guardrails import GuardrailsSpec
from micro_mcp.config.oauth import OAuthSpec
from micro_mcp.config.pinning import Mode, PinningSpec
from micro_mcp.config.profiles import CacheSpec, ProfileSpec, ToolOverride, check_profile_names
from micro_mcp.config.rate_limits import RateLimitsSpec
from micro_mcp.config.rules import RuleSpec, unique_ids
from micro_mcp.config.state import StateSpec
from micro_mcp.config.telemetry import TelemetrySpec
from micro_mcp.protocol import names

logger = logging.getLogger(__name__)


class _Frozen(BaseModel):
    # Field docstrings become descriptions: docs/CONFIG.md and the JSON Schemas are made of them.
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


class LimitsSpec(_Frozen):
    """Resource limits for a stdio service's process (applied with util-linux `prlimit`)."""

    memory_mb: int | None = Field(default=None, ge=16, alias="memoryMB")
    """Address space in MiB (RLIMIT_AS): an allocation past it fails inside the service."""
    cpu_seconds: int | None = Field(default=None, ge=1, alias="cpuSeconds")
    """CPU time in seconds (RLIMIT_CPU): past it the service is killed, and restarted."""
    open_files: int | None = Field(default=None, ge=16, alias="openFiles")
    """Open file descriptors (RLIMIT_NOFILE)."""


class SandboxSpec(_Frozen):
    """Confinement of a stdio service with bubblewrap (`bwrap`), opt-in.

    The service sees the system's programs and libraries read-only, the interpreter when its
    command is `python`, its `cwd`, a private /tmp, and no network; anything else it needs is
    named here. Paths are relative to the manifest's folder.
    """

    read_only: tuple[str, ...] = Field(default=(), alias="readOnly")
    """Paths the service may read."""
    read_write: tuple[str, ...] = Field(default=(), alias="readWrite")
    """Paths the service may read and write."""
    network: bool = False
    """Whether the service may use the network; it is all or nothing (bubblewrap shares the
    host's network or none)."""


class ServiceSpec(_Frozen):
    """One MCP server the gateway fronts; its manifest key is its namespace."""

    type: Literal["stdio", "http", "streamable-http", "sse"] | None = None
    """Optional transport hint (VS Code writes it); inferred from `command` / `url` when absent."""
    command: str | None = None
    """A stdio service: the program to run, without a shell. A name is looked up on the
    service's PATH (the gateway's own venv `bin` first); a path with `/` is relative to the
    service's working folder; `python` means the gateway's own interpreter."""
    args: tuple[str, ...] = ()
    """The program's arguments, exactly as given (relative paths mean the working folder)."""
    env: dict[str, str] = Field(default_factory=dict)
    """Environment variables for the service, on top of the few it inherits (`PATH`, `HOME`,
    `USER`, `LOGNAME`, `LANG`, `LC_ALL`, `LC_CTYPE`, `TZ`, `TMPDIR`)."""
    cwd: str | None = None
    """The service's working folder, relative to the manifest's folder; unset: the manifest's
    folder itself (for a sandboxed service, `/`)."""
    url: str | None = None
    """A service reached over the network: its Streamable HTTP (or, with `type: sse`, HTTP+SSE)
    endpoint."""
    headers: dict[str, str] = Field(default_factory=dict)
    """HTTP headers sent to a `url` service (its own credentials; a client's token never is)."""
    limits: LimitsSpec | None = None
    """Resource limits for a stdio service; none unless given."""
    sandbox: SandboxSpec | None = None
    """Run the stdio service in a bubblewrap sandbox; none unless given."""
    disabled: bool = False
    """Cursor's switch: the entry stays in the file but the service is not started."""
    prefix: bool = True
    """False exposes the service's names and URIs unchanged (for a gateway fronting one service)."""
    timeout: float = Field(default=60.0, gt=0)
    """Seconds a call may take before the gateway cancels it upstream and answers with an error."""
    tool_timeouts: dict[str, float] = Field(default_factory=dict, alias="toolTimeouts")
    """Per-tool call timeouts in seconds, by the service's own tool name; others use `timeout`."""
    max_concurrent: int = Field(default=64, ge=1, alias="maxConcurrent")
    """Calls the gateway runs on the service at once; more wait in a queue."""
    max_queued: int = Field(default=256, ge=0, alias="maxQueued")
    """Calls that may wait for a slot; past that the gateway answers `-32015` at once."""
    startup_timeout: float = Field(default=30.0, gt=0, alias="startupTimeout")
    """Seconds the service may take to start and list its catalog."""
    protocol: Literal["auto", "handshake", "modern"] = "auto"
    """Which MCP era to speak to the service: probe (`auto`), or pin one."""
    breaker_failures: int = Field(default=5, ge=0, alias="breakerFailures")
    """Timeouts or connection failures in a row that open the circuit (0: never)."""
    breaker_cooldown: float = Field(default=10.0, gt=0, alias="breakerCooldown")
    """Seconds an open circuit fails calls fast before one probe call is let through."""
    max_restarts: int = Field(default=5, ge=0, alias="maxRestarts")
    """Restarts in a row (runs shorter than a minute) before the service is left failed."""
    restart_delay: float = Field(default=0.5, gt=0, alias="restartDelay")
    """Seconds before the first restart; each further one in a row waits twice as long (to 30 s)."""
    pinning: Mode = "pin"
    """Tool pinning: `pin` approves what is seen first and holds a later change until an
    operator approves it; `review` holds new definitions too; `warn` only reports; `off`."""
    sessions: Literal["auto", "shared", "per-client"] = "auto"
    """`shared`: one upstream session serves every client. `per-client`: each handshake-era
    client gets a session of its own (for a stdio service, a process of its own), so the
    service keeps per-client state and can send that client requests (sampling, elicitation,
    roots); 2026-07-28 clients, being stateless, share the first session. `auto`: `per-client`
    for a service reached by URL that speaks 2026-07-28 (such a service can ask a
    handshake-era client for input only over a handshake-era session of its own, and an HTTP
    session costs little), else `shared`."""
    tags: tuple[str, ...] = ()
    """Labels that `profiles` select services by (`tags: [files, read]`)."""
    tools: dict[str, ToolOverride] = Field(default_factory=dict)
    """Overrides by the service's own tool name: a new name, title, description or
    annotations, arguments the gateway fills in (`fixed`), or the tool hidden (`hide`)."""

    @model_validator(mode="after")
    def _one_transport(self) -> ServiceSpec:
        if (self.command is None) == (self.url is None):
            raise ValueError("give exactly one of 'command' (a stdio service) or 'url'")
        if self.command is not None and self.type not in (None, "stdio"):
            raise ValueError(f"type {self.type!r} needs a 'url', not a 'command'")
        if self.url is not None and self.type == "stdio":
            raise ValueError("type 'stdio' needs a 'command', not a 'url'")
        if self.url is not None and (self.sandbox is not None or self.limits is not None):
            raise ValueError("'sandbox' and 'limits' apply to stdio services, not to a 'url'")
        return self


class Manifest(_Frozen):
    """The discovery manifest: the services the gateway fronts, keyed by namespace."""

    mcp_servers: dict[str, ServiceSpec] = Field(alias="mcpServers")
    """The services, keyed by namespace (1-32 characters of a-z, 0-9 and `-`, starting with a
    letter): their tools appear as `namespace.tool`."""

    @field_validator("mcp_servers")
    @classmethod
    def _namespaces(cls, services: dict[str, ServiceSpec]) -> dict[str, ServiceSpec]:
        for namespace in services:
            if not names.is_namespace(namespace):
                raise ValueError(
                    f"{namespace!r} is not a valid namespace: use 1-32 characters of a-z, 0-9 "
                    "and '-', starting with a letter"
                )
        unprefixed = [ns for ns, spec in services.items() if not spec.prefix and not spec.disabled]
        if len(unprefixed) > 1:
            raise ValueError(
                f"only one service may set 'prefix': false, found {', '.join(unprefixed)}"
            )
        return services


class PolicySpec(_Frozen):
    """Glob patterns over canonical `namespace.name` subjects; deny wins over allow."""

    allow: tuple[str, ...] = ("*",)
    """Glob patterns (`fs.*`, `http.fetchText`) of what may be listed and used."""
    deny: tuple[str, ...] = ()
    """Glob patterns of what may not, even when allowed."""


class StaticToken(_Frozen):
    """Where a static bearer token comes from: at most one of the four keys.

    The gateway keeps only the token's SHA-256 and compares digests in constant time. `token`
    (clear text in the config) still works, with a warning at start; `tokenSha256` keeps the
    secret out of the file altogether (`micro-mcp token hash` prints it).
    """

    token: str | None = Field(default=None, min_length=16)
    """The token in clear text (kept for older configs; prefer the other three)."""
    token_sha256: str | None = Field(
        default=None, pattern=r"^[0-9a-fA-F]{64}$", alias="tokenSha256"
    )
    """The hex SHA-256 of the token's UTF-8 bytes."""
    token_file: str | None = Field(default=None, alias="tokenFile")
    """A file holding the token (surrounding whitespace ignored), relative to the working
    directory; read once at start."""
    token_env: str | None = Field(default=None, min_length=1, alias="tokenEnv")
    """An environment variable of the gateway holding the token; read once at start."""

    @model_validator(mode="after")
    def _at_most_one_source(self) -> StaticToken:
        given = [
            key
            for key, value in (
                ("token", self.token),
                ("tokenSha256", self.token_sha256),
                ("tokenFile", self.token_file),
                ("tokenEnv", self.token_env),
            )
            if value is not None
        ]
        if len(given) > 1:
            raise ValueError(f"give at most one of {', '.join(given)}")
        return self

    def has_token(self) -> bool:
        """Whether any source of a token is given."""
        return any(
            value is not None
            for value in (self.token, self.token_sha256, self.token_file, self.token_env)
        )


class PrincipalSpec(StaticToken):
    """A caller the gateway knows by name: identified by a static token, or (with none) a policy
    that OAuth token holders are given through `oauth.principals`."""

    policy: PolicySpec = PolicySpec()
    """What this principal may list and use."""
    groups: tuple[str, ...] = ()
    """Groups the caller belongs to, for `rules` that name groups."""
    profile: str | None = None
    """The one profile the caller is held to (see `profiles`)."""
    profiles: tuple[str, ...] = ()
    """Profiles the caller is held to: it sees the first on `/mcp` (and on stdio without
    `--profile`), and may use only these at `/mcp/p/NAME`. Empty: the whole catalog on `/mcp`,
    any profile at its own endpoint."""

    @model_validator(mode="after")
    def _one_way_to_assign(self) -> PrincipalSpec:
        if self.profile is not None and self.profiles:
            raise ValueError("give 'profile' or 'profiles', not both")
        return self

    def assigned(self) -> tuple[str, ...]:
        """The profiles the caller is held to, the default first."""
        return (self.profile,) if self.profile is not None else self.profiles


class AuditSpec(_Frozen):
    """Where the audit trail goes and how much of a call it records."""

    path: str = "-"
    """A file to append JSON lines to; `-` is the gateway's stderr."""
    include_arguments: bool = Field(default=False, alias="includeArguments")
    """Record arguments verbatim; off by default, when only their size and a keyed hash (HMAC
    with the audit key) are kept."""
    redact_secrets: bool = Field(default=True, alias="redactSecrets")
    """Replace secrets of known shapes (API keys, tokens, private keys, passwords in URLs and
    `password=` pairs; `micro_mcp.redaction`) in what a record holds as text: verbatim
    arguments and reasons. On by default; turning it off keeps them as sent."""
    key_env: str = Field(default="MICRO_MCP_AUDIT_KEY", alias="keyEnv")
    """The environment variable holding the deployment's audit key (at least 16 characters):
    records then carry a `mac` and argument digests are keyed with it."""
    key_file: str | None = Field(default=None, alias="keyFile")
    """With no key in `keyEnv`: a file holding the key, generated (mode 0600) on first start.
    With neither, records carry the hash chain without a `mac`, and argument digests use a key
    made for the run (they match within one run only)."""
    fsync: Literal["always", "interval", "never"] = "interval"
    """When the JSON-lines file is forced to disk. Every record is written to the file before
    its reply is sent, so a killed gateway loses none; `fsync` is about the host losing power:
    `always` (a reply waits for its record's fsync, shared by the calls that wait with it),
    `interval` (at the first record once `fsyncIntervalMs` have passed since the last one,
    and at shutdown), `never` (the kernel decides)."""
    fsync_interval_ms: int = Field(default=1000, ge=1, alias="fsyncIntervalMs")
    """Milliseconds between fsyncs with `fsync: interval`."""
    rotate_bytes: int | None = Field(default=None, ge=1024, alias="rotateBytes")
    """Start a new file once the current one passes this size; the full one is renamed
    `<path>.<n>` (n = 1, 2, ...) and the chain goes on in the new file."""
    sqlite: str | None = None
    """Also write the sealed records to this SQLite database (table `audit`)."""
    otlp: bool = False
    """Also export the sealed records as OpenTelemetry log records (needs the `otlp` extra and
    `telemetry.otlpEndpoint`)."""
    failure_mode: Literal["closed", "open"] = Field(default="closed", alias="failureMode")
    """When a sink cannot write: `closed` refuses calls (error -32030) until it can again;
    `open` serves them, logs an error and counts `micro_mcp_audit_failures_total`."""

    @model_validator(mode="before")
    @classmethod
    def _old_key(cls, data: Any) -> Any:
        # Before every other key was camelCase this one was written `include_arguments`;
        # configs that still say so keep working, with a warning.
        if isinstance(data, Mapping) and "include_arguments" in data:
            logger.warning(
                "audit.include_arguments is deprecated: write audit.includeArguments instead"
            )
        return cast(Any, data)


class HttpSpec(_Frozen):
    """The Streamable HTTP front (`--transport http`)."""

    allowed_origins: tuple[str, ...] = Field(default=(), alias="allowedOrigins")
    """Browser origins admitted besides loopback ones (`https://app.example.com`); any other
    `Origin` gets 403."""
    allowed_hosts: tuple[str, ...] = Field(default=(), alias="allowedHosts")
    """`Host` values admitted besides the bound address and loopback names; any other gets 421,
    which stops DNS-rebinding attacks on a gateway bound to loopback."""
    max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, alias="maxBodyBytes")
    """Largest request body; a larger one gets 413 without being read."""
    max_header_bytes: int = Field(default=64 * 1024, ge=1024, alias="maxHeaderBytes")
    """Largest request head (request line and headers); a larger one gets 431 and the connection
    is closed, before any token is checked."""
    header_timeout: float = Field(default=10.0, gt=0, alias="headerTimeout")
    """Seconds a connection has to finish its request head (the first one from when it opens);
    one that has not is closed, so slow or stalled heads cannot hold connections open."""
    session_idle_seconds: float = Field(default=3600.0, gt=0, alias="sessionIdleSeconds")
    """A handshake-era session unused this long is closed."""
    max_sessions: int = Field(default=10_000, ge=1, alias="maxSessions")
    """Open handshake-era sessions at most; past it, `initialize` gets 503."""
    max_sessions_per_principal: int = Field(default=100, ge=1, alias="maxSessionsPerPrincipal")
    """Open handshake-era sessions one principal may hold; past it, its `initialize` gets 429
    while other principals still get in (one token cannot take the whole `maxSessions`).
    Without tokens every caller is `anonymous`, and only `maxSessions` applies."""


class NamesSpec(_Frozen):
    """What hosts accept as tool and prompt names; longer names, or names with other characters,
    are shortened reversibly (cut, plus a hash of the canonical `namespace.name`)."""

    max_length: int = Field(
        default=names.DEFAULT_MAX_LENGTH, ge=names.MIN_MAX_LENGTH, le=1024, alias="maxLength"
    )
    """The longest exposed name, in characters (64: Claude's and OpenAI's limit)."""
    alphabet: str = names.DEFAULT_ALPHABET
    """The characters allowed, as a regex character-class body (`A-Za-z0-9_-` for hosts that
    refuse dots); it must allow a-z, 0-9, '-' and the separator."""

    @field_validator("alphabet")
    @classmethod
    def _alphabet(cls, value: str) -> str:
        problem = names.alphabet_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    def rules(self) -> names.NameRules:
        """The rules the catalog fits names to."""
        return names.NameRules(self.max_length, self.alphabet)


class GatewayConfig(StaticToken):
    """The gateway's own settings.

    The token keys (`token`, `tokenSha256`, `tokenFile`, `tokenEnv`) give the default
    principal's static token; a stdio client passes it as MICRO_MCP_TOKEN.
    """

    policy: PolicySpec = PolicySpec()
    """The default principal's policy."""
    profile: str | None = None
    """The profile the default principal (and, without tokens, every caller) is held to."""
    principals: dict[str, PrincipalSpec] = Field(default_factory=dict)
    """Further callers by name, each with its own token and policy."""
    rules: tuple[RuleSpec, ...] = ()
    """Authorization rules over tools, resources and prompts, with conditions on the call's
    arguments; once there is one, what no rule allows is denied. They apply on top of each
    principal's `policy`: a call goes through only when both allow it."""
    oauth: OAuthSpec | None = None
    """Accept OAuth 2.1 access tokens from an authorization server (off unless given)."""
    audit: AuditSpec = AuditSpec()
    """The audit trail: where it goes, what it records."""
    separator: str = "."
    """Between namespace and name in exposed tool and prompt names."""
    names: NamesSpec = NamesSpec()
    """The length and alphabet exposed tool and prompt names are fitted to."""
    page_size: int = Field(default=1000, ge=1, alias="pageSize")
    """Items per page of the gateway's own list results."""
    max_message_bytes: int = Field(default=8 * 1024 * 1024, ge=1024, alias="maxMessageBytes")
    """Largest message accepted on a stdio pipe, from the client or a service."""
    http: HttpSpec = HttpSpec()
    """The Streamable HTTP front (`--transport http`)."""
    telemetry: TelemetrySpec = TelemetrySpec()
    """Traces, logs, metrics and the operator's view."""
    rate_limits: RateLimitsSpec = Field(default=RateLimitsSpec(), alias="rateLimits")
    """Rate limits and quotas on calls; none unless rules are given."""
    consent: ConsentSpec = ConsentSpec()
    """Calls that wait for the human's approval (MCP elicitation) before they run."""
    discovery: DiscoverySpec = DiscoverySpec()
    """Meta-tools to search, describe and call the catalog's tools (off unless enabled)."""
    guardrails: GuardrailsSpec = GuardrailsSpec()
    """Checks on calls' arguments, results and tool definitions: secrets, PII, prompt
    injection; none by default."""
    pinning: PinningSpec = PinningSpec()
    """Where tool pins are kept (each service's mode is its manifest entry's `pinning`)."""
    state: StateSpec = StateSpec()
    """Where replicas of one deployment share their state (Redis); each alone when unset."""
    reload_interval: float = Field(default=1.0, ge=0, alias="reloadInterval")
    """Seconds between checks of the manifest file for edits; 0 reloads only on SIGHUP."""
    profiles: dict[str, ProfileSpec] = Field(default_factory=dict)
    """Named subsets of the catalog, each served at `/mcp/p/NAME` (stdio: `--profile NAME`)."""
    cache: CacheSpec | None = None
    """Keep `resources/read` results services mark cacheable; off unless given."""

    @model_validator(mode="after")
    def _known_profiles(self) -> GatewayConfig:
        check_profile_names(self.profiles)
        assigned = [("profile", self.profile)] if self.profile is not None else []
        for name, spec in self.principals.items():
            assigned += [(f"principals.{name}.profiles", p) for p in spec.assigned()]
        for where, profile in assigned:
            if profile not in self.profiles:
                raise ValueError(f"{where}: no profile {profile!r} under 'profiles'")
        return self

    @field_validator("separator")
    @classmethod
    def _separator(cls, value: str) -> str:
        if value not in names.SEPARATORS:
            raise ValueError(f"must be one of {', '.join(repr(s) for s in names.SEPARATORS)}")
        return value

    @model_validator(mode="after")
    def _separator_in_alphabet(self) -> GatewayConfig:
        if not self.names.rules().allows(self.separator):
            raise ValueError(
                f"separator {self.separator!r} is outside names.alphabet "
                f"{self.names.alphabet!r}: add it there, or every name is rewritten"
            )
        return self

    @model_validator(mode="after")
    def _unique_tokens(self) -> GatewayConfig:
        seen: dict[str, str] = {}
        sources = [("default", self), *self.principals.items()]
        for name, spec in sources:
            digest = spec.token_sha256.lower() if spec.token_sha256 is not None else None
            if spec.token is not None:
                digest = hashlib.sha256(spec.token.encode()).hexdigest()
            if digest is None:
                continue
            if digest in seen:
                raise ValueError(f"principals {seen[digest]!r} and {name!r} share a token")
            seen[digest] = name
        return self

    @model_validator(mode="after")
    def _known_principals(self) -> GatewayConfig:
        if self.oauth is None:
            return self
        named = [
            (f"oauth.principals[{i}].principal", g.principal)
            for i, g in enumerate(self.oauth.principals)
        ]
        for where, name in [*named, ("oauth.defaultPrincipal", self.oauth.default_principal)]:
            if name != "default" and name not in self.principals:
                raise ValueError(
                    f"{where}: no principal {name!r} (name one under 'principals', or 'default')"
                )
        return self

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> GatewayConfig:
        unique_ids(self.rules)
        return self
