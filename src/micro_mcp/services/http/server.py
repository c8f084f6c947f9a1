"""The `http` MCP server: fetch allowlisted http(s) URLs as text.

Tool: `fetchText(url, maxBytes?)`. Only hosts on the allowlist are fetched, redirects
included; HTML is turned into readable text; other text types come back as they are.
"""

# No `from __future__ import annotations` here: the SDK evaluates the tools' annotations,
# and they use build_server's local limits in their descriptions.
from collections.abc import Iterable
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from micro_mcp.services.http.allowlist import Allowlist
from micro_mcp.services.http.fetcher import FetchError, FetchLimits, fetch_text

DEFAULT_MAX_BYTES = 1024 * 1024
"""Most body bytes read per fetch unless configured otherwise; the rest is cut."""

DEFAULT_TIMEOUT = 10.0
"""Seconds allowed for a whole fetch, redirects included, unless configured otherwise."""

DEFAULT_MAX_REDIRECTS = 5
"""Redirect hops followed per fetch unless configured otherwise."""

_INSTRUCTIONS = """\
Fetches web pages and other text documents over http(s) from an allowlist of hosts.
HTML comes back as readable plain text. Hosts outside the allowlist are refused."""


class FetchResult(BaseModel):
    """The result of fetchText; the text is also the result's text content."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True)

    url: str = Field(description="The final URL, after redirects.")
    status: int = Field(description="HTTP status code of the final response.")
    content_type: str = Field(description="Media type of the response, e.g. text/html.")
    text: str = Field(description="The document as text; HTML converted to readable text.")
    truncated: bool = Field(description="True if the body was cut at the byte limit.")


def build_server(
    allow: Allowlist | Iterable[str] = (),
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    max_redirects: int = DEFAULT_MAX_REDIRECTS,
) -> MCPServer:
    """Build the http server fetching only hosts admitted by `allow`.

    Raises:
        ValueError: An allowlist entry is malformed.
    """
    allowlist = allow if isinstance(allow, Allowlist) else Allowlist.parse(allow)
    mcp = MCPServer("http", instructions=_INSTRUCTIONS)

    @mcp.tool(
        name="fetchText",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
    )
    async def fetch(
        url: Annotated[str, Field(description="An http or https URL on an allowlisted host.")],
        # camelCase because this is the wire name: the SDK 2.3.0 passes pydantic aliases
        # through to the function as keyword names, so an alias cannot bridge the two.
        maxBytes: Annotated[
            int | None,
            Field(ge=1, description=f"Cut the body after this many bytes; at most {max_bytes}."),
        ] = None,
    ) -> Annotated[CallToolResult, FetchResult]:
        """Fetch a URL from an allowlisted host and return its content as text."""
        limit = max_bytes if maxBytes is None else min(maxBytes, max_bytes)
        limits = FetchLimits(max_bytes=limit, timeout=timeout, max_redirects=max_redirects)
        try:
            page = await fetch_text(url, allowlist, limits)
        except FetchError as exc:
            raise ToolError(str(exc)) from exc
        result = FetchResult(
            url=page.url,
            status=page.status,
            content_type=page.content_type,
            text=page.text,
            truncated=page.truncated,
        )
        # The text goes out as plain content too, so a model reads it without JSON escaping.
        return CallToolResult(
            content=[TextContent(type="text", text=page.text)],
            structured_content=result.model_dump(mode="json", by_alias=True),
        )

    return mcp
