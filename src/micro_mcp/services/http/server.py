"""The `http` MCP server: fetch allowlisted http(s) URLs as text.

Tool: `fetchText(url, maxBytes?)`. Only hosts on the allowlist are fetched, redirects
included, and only at addresses the address policy admits; HTML comes back as Markdown,
other text types as they are. Every refusal or failure is an `isError` result that says why.
"""

# No `from __future__ import annotations` here: the SDK evaluates the tools' annotations,
# and they use build_server's local limits in their descriptions.
from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from micro_mcp.services.http.errors import FetchError
from micro_mcp.services.http.fetcher import FetchSettings, fetch_text

_INSTRUCTIONS = """\
Fetches web pages and other text documents over http(s) from an allowlist of hosts.
HTML comes back as Markdown. Hosts outside the allowlist, and internal addresses
(loopback, private networks, cloud metadata), are refused."""


class FetchResult(BaseModel):
    """The result of fetchText; the text is also the result's text content."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, extra="forbid")

    url: str = Field(description="The final URL, after redirects.")
    status: int = Field(description="HTTP status code of the final response.")
    content_type: str = Field(description="Media type of the response, e.g. text/html.")
    title: str | None = Field(description="The HTML page's <title>; null for other types.")
    text: str = Field(description="The document as text; HTML converted to Markdown.")
    truncated: bool = Field(description="True if the body was cut at the byte limit.")


def build_server(settings: FetchSettings) -> MCPServer:
    """Build the http server fetching what `settings` admits."""
    mcp = MCPServer("http", instructions=_INSTRUCTIONS)
    max_bytes = settings.max_bytes

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
            Field(ge=1, le=max_bytes, description="Cut the body after this many bytes."),
        ] = None,
    ) -> Annotated[CallToolResult, FetchResult]:
        """Fetch a URL from an allowlisted host and return its content as text; HTML as Markdown."""
        try:
            page = await fetch_text(url, settings, max_bytes=maxBytes)
        except FetchError as exc:
            raise ToolError(str(exc)) from exc
        result = FetchResult.model_validate(page, from_attributes=True)
        # The text goes out as plain content too, so a model reads it without JSON escaping.
        return CallToolResult(
            content=[TextContent(type="text", text=page.text)],
            structured_content=result.model_dump(mode="json", by_alias=True),
        )

    return mcp
