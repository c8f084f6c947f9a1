"""The gateway as an OAuth 2.1 resource server: issuer, audience, keys, claims, introspection."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )


FORBIDDEN_ALGORITHMS: Final = frozenset({"none", "HS256", "HS384", "HS512"})
"""Never accepted: `none` is no signature, and HS* with an issuer's public key as the secret is
the classic key-confusion forgery (anyone holding the public key can sign)."""
ASYMMETRIC_ALGORITHMS: Final = (
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
)  # fmt: skip
"""The JWS algorithms the gateway can verify with an issuer's public keys."""


class ClaimsSpec(_Frozen):
    """Which claims of a token name the caller, its groups and its scopes."""

    principal: str = "sub"
    """The claim naming the caller (`sub`, or `client_id` for machine clients); the principal is
    then called `oauth:<value>` in audit and sessions."""
    groups: str = "groups"
    """The claim listing the caller's groups (a list of strings, or one space-separated string)."""
    scopes: tuple[str, ...] = ("scope", "scp")
    """Claims listing the granted scopes, tried in order (RFC 9068 `scope` is a space-separated
    string; Entra and Okta's `scp` a list)."""


class OAuthGrantSpec(_Frozen):
    """Give token holders that match one claim value the policy of a configured principal."""

    subject: str | None = None
    """Match the principal claim's value exactly."""
    group: str | None = None
    """Match callers in this group."""
    scope: str | None = None
    """Match callers granted this scope."""
    principal: str
    """The configured principal (`principals.<name>`, or `default`) whose policy they get."""

    @model_validator(mode="after")
    def _one_match(self) -> OAuthGrantSpec:
        if sum(value is not None for value in (self.subject, self.group, self.scope)) != 1:
            raise ValueError("give exactly one of 'subject', 'group' or 'scope'")
        return self


class IntrospectionSpec(_Frozen):
    """RFC 7662 token introspection, for opaque (non-JWT) access tokens."""

    endpoint: str = Field(pattern=r"^https?://")
    """The authorization server's introspection endpoint."""
    client_id: str = Field(alias="clientId")
    """The gateway's own client id at the authorization server (HTTP Basic authentication)."""
    client_secret_env: str | None = Field(default=None, alias="clientSecretEnv")
    """The environment variable holding the gateway's client secret."""
    client_secret_file: str | None = Field(default=None, alias="clientSecretFile")
    """A file holding the gateway's client secret."""
    cache_seconds: float = Field(default=60.0, ge=0, le=3600, alias="cacheSeconds")
    """How long an active answer is reused (never past the token's `exp`); 0 does not cache."""
    cache_size: int = Field(default=10_000, ge=0, alias="cacheSize")
    """Active answers kept at most; the least recently used go first."""
    timeout: float = Field(default=5.0, gt=0, le=60)
    """Seconds an introspection call may take before the request gets 503."""
    max_concurrent: int = Field(default=16, ge=1, alias="maxConcurrent")
    """Introspection calls in flight at once; more wait (within `timeout`)."""

    @model_validator(mode="after")
    def _one_secret(self) -> IntrospectionSpec:
        if (self.client_secret_env is None) == (self.client_secret_file is None):
            raise ValueError("give exactly one of 'clientSecretEnv' or 'clientSecretFile'")
        return self


class OAuthSpec(_Frozen):
    """The gateway as an OAuth 2.1 resource server (MCP authorization, RFC 9728, RFC 8707)."""

    issuer: str = Field(pattern=r"^https?://")
    """The authorization server's issuer identifier; tokens must carry it as `iss`."""
    resource: str = Field(pattern=r"^https?://")
    """This gateway's resource URL, as clients reach it (`https://gw.example.com/mcp`); tokens
    must name it as their audience (RFC 8707), and the metadata publishes it."""
    jwks_uri: str | None = Field(default=None, pattern=r"^https?://", alias="jwksUri")
    """Where the issuer publishes its signing keys (JWKS); needed for JWT access tokens. Fetched
    without following redirects: name the final URL."""
    authorization_servers: tuple[str, ...] = Field(default=(), alias="authorizationServers")
    """What the metadata lists under `authorization_servers`; default: `[issuer]`."""
    algorithms: tuple[str, ...] = ("RS256", "PS256", "ES256", "EdDSA")
    """The JWS algorithms accepted; `none` and HS* are refused here."""
    leeway: float = Field(default=30.0, ge=0, le=300)
    """Seconds of clock skew allowed on `exp`, `nbf` and `iat`."""
    required_scopes: tuple[str, ...] = Field(default=(), alias="requiredScopes")
    """Scopes every token must carry; one without them gets 403 `insufficient_scope` naming
    them, which makes an OAuth client ask for them (step-up)."""
    scopes_supported: tuple[str, ...] | None = Field(default=None, alias="scopesSupported")
    """What the metadata lists under `scopes_supported`; default: `requiredScopes`."""
    claims: ClaimsSpec = ClaimsSpec()
    """Which claims name the caller, its groups and its scopes."""
    principals: tuple[OAuthGrantSpec, ...] = ()
    """Which configured principal's policy a token holder gets: the first entry that matches
    its subject, a group or a scope; none matching gives `defaultPrincipal`'s."""
    default_principal: str = Field(default="default", alias="defaultPrincipal")
    """The configured principal whose policy token holders get when no entry of `principals`
    matches; `default` is the top-level `policy`."""
    max_token_bytes: int = Field(default=8192, ge=256, le=65536, alias="maxTokenBytes")
    """Longer tokens are refused before they are parsed."""
    token_cache_size: int = Field(default=10_000, ge=0, alias="tokenCacheSize")
    """JWTs that passed, kept (by SHA-256) so that the next call with the same token skips the
    signature check; their lifetime is still checked each time. 0 checks every call afresh."""
    jwks_refresh_seconds: float = Field(default=30.0, ge=0, alias="jwksRefreshSeconds")
    """Least seconds between two fetches of the key set prompted by unknown `kid`s: a flood of
    made-up key ids costs the issuer one request per interval at most."""
    jwks_max_age: float = Field(default=3600.0, gt=0, alias="jwksMaxAge")
    """Seconds between routine refreshes of the key set (rotation, revocation)."""
    jwks_timeout: float = Field(default=5.0, gt=0, le=60, alias="jwksTimeout")
    """Seconds a fetch of the key set may take; requests with a known key never wait on it."""
    introspection: IntrospectionSpec | None = None
    """Check tokens that are not JWTs with RFC 7662 introspection."""

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for alg in value:
            if alg in FORBIDDEN_ALGORITHMS:
                raise ValueError(f"{alg!r} is never accepted (no signature, or a shared secret)")
            if alg not in ASYMMETRIC_ALGORITHMS:
                raise ValueError(
                    f"unknown algorithm {alg!r}; use {', '.join(ASYMMETRIC_ALGORITHMS)}"
                )
        if not value:
            raise ValueError("name at least one algorithm")
        return value

    @model_validator(mode="after")
    def _some_verifier(self) -> OAuthSpec:
        if self.jwks_uri is None and self.introspection is None:
            raise ValueError("give 'jwksUri' (JWT access tokens) or 'introspection' (opaque ones)")
        return self
