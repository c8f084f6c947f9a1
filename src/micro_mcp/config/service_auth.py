"""A service's `auth`: the access token the gateway gets for a service reached by URL.

`token-exchange` (RFC 8693): a call from a client that authenticated with an OAuth token is
sent with a token the authorization server issues for that user and the service's audience in
exchange for the client's; the service never sees the client's token. `client-credentials`
(RFC 6749 4.4): every request carries a token the gateway gets for itself. Either way, the
gateway's own requests (handshake, listings) carry a client-credentials token.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from micro_mcp.config.references import check as check_references


class ServiceAuthSpec(BaseModel):
    """How the gateway authenticates to a service by URL with OAuth tokens of its own."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    type: Literal["token-exchange", "client-credentials"]
    """`token-exchange`: each call carries a token issued for the calling user and this
    service (RFC 8693), in exchange for the client's OAuth token; `client-credentials`: the
    gateway's own token (RFC 6749 4.4). Either way the gateway's own requests (handshake,
    listings) carry its own token, so its client must be allowed the client-credentials grant."""
    token_endpoint: str = Field(alias="tokenEndpoint", pattern=r"^https?://")
    """The authorization server's token endpoint (for token exchange, the server that issued
    the clients' tokens)."""
    client_id: str = Field(alias="clientId", min_length=1)
    """The gateway's client id at the authorization server."""
    client_secret: str = Field(alias="clientSecret", min_length=1)
    """The gateway's client secret; write it as a reference (`${file:/run/secrets/NAME}` or
    `${env:NAME}`), resolved as `env` and `headers` values are."""
    audience: str | None = None
    """The service's audience, asked for as `audience` (token exchange) and the token's `aud`."""
    resource: str | None = None
    """RFC 8707 `resource` to ask for (the service's URL, say), instead of or beside `audience`."""
    scope: str | None = None
    """Scopes to ask for, space-separated."""
    timeout: float = Field(default=10.0, gt=0)
    """Seconds a token request may take; past that the call fails with -32032."""
    cache_size: int = Field(default=10_000, ge=1, alias="cacheSize")
    """Exchanged tokens kept (one per user), until shortly before each expires."""

    @field_validator("client_secret")
    @classmethod
    def _reference(cls, value: str) -> str:
        check_references({"clientSecret": value})
        return value
