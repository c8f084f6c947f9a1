"""JSON-RPC error codes: the standard ones, MCP's, and micro-mcp's own.

micro-mcp's codes come from the implementation-defined band -32000..-32099, skipping -32000 and
-32001 (the SDKs use them for closed connections and timeouts) and -32002 (MCP's resource not
found) and -32020..-32022 and -32042 (MCP 2026-07-28).
"""

from typing import Final

PARSE_ERROR: Final = -32700
"""The bytes were not JSON."""
INVALID_REQUEST: Final = -32600
"""JSON, but not a JSON-RPC 2.0 request."""
METHOD_NOT_FOUND: Final = -32601
"""The method does not exist (or is not available in the negotiated protocol version)."""
INVALID_PARAMS: Final = -32602
"""Bad params; MCP also uses it for an unknown tool or prompt."""
INTERNAL_ERROR: Final = -32603
"""A fault inside the gateway; the details are in its log, not on the wire."""

RESOURCE_NOT_FOUND: Final = -32002
"""MCP: no such resource."""
HEADER_MISMATCH: Final = -32020
"""MCP 2026-07-28: an HTTP header disagrees with the body."""
MISSING_REQUIRED_CLIENT_CAPABILITY: Final = -32021
"""MCP 2026-07-28: the request needs a client capability the client did not declare."""
UNSUPPORTED_PROTOCOL_VERSION: Final = -32022
"""MCP 2026-07-28: the request's protocol version is not one the server speaks."""

POLICY_DENIED: Final = -32010
"""micro-mcp: the caller's policy does not allow this tool, prompt or resource."""
UNAUTHENTICATED: Final = -32011
"""micro-mcp: the caller did not present the gateway's token."""
UPSTREAM_UNAVAILABLE: Final = -32012
"""micro-mcp: the owning service is not running or its connection broke."""
UPSTREAM_TIMEOUT: Final = -32013
"""micro-mcp: the owning service did not answer in time."""
MESSAGE_TOO_LARGE: Final = -32014
"""micro-mcp: a message exceeded the configured size limit and was dropped."""
OVERLOADED: Final = -32015
"""micro-mcp: the service has as many calls running and queued as it is allowed; try later."""
RATE_LIMITED: Final = -32016
"""micro-mcp: the caller is over a rate limit or quota (or its share of sessions); `data` has
`retryAfter`, the seconds until a retry can succeed. HTTP answers it with 429 and `Retry-After`."""
RATE_LIMIT_UNAVAILABLE: Final = -32017
"""micro-mcp: the rate-limit store (Redis) cannot be reached and `failureMode` is `closed`, so
limited calls are refused; HTTP answers it with 503."""
CONSENT_REFUSED: Final = -32018
"""micro-mcp: the call needs the human's consent, which was declined, cancelled, not given in
time, or could not be asked (the client cannot take an elicitation); `data.reason` says which.
The service never saw the call."""
TOOL_HELD: Final = -32019
"""micro-mcp: the tool or prompt changed since it was approved (or, with `pinning: review`, was
never approved), so it is held back until an operator approves it (`micro-mcp approve`);
`data` names the service, the item and the change. The service never saw the call."""
STATE_UNAVAILABLE: Final = -32009
"""micro-mcp: the state gateway replicas share (`state.redis`) cannot be reached, so a request
that needs it (a consent answer, a task) is refused; HTTP answers it with 503."""
AUDIT_UNAVAILABLE: Final = -32030
"""micro-mcp: the audit trail cannot be written and `audit.failureMode` is `closed`, so calls
are refused until it can (the error says what failed); HTTP answers it with 503."""
GUARDRAIL_BLOCKED: Final = -32031
"""micro-mcp: a guardrail (`guardrails.checks`) blocked the call's arguments (the service never
saw the call), its result (the client never sees it), or the tool's definition; `data` names the
`guardrail`, the `stage` (`arguments`, `result`, `listing`) and the `reason` (kinds found, never
the text itself)."""
