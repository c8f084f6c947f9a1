"""The tpl-service MCP server: one capability, behind one small, typed tool.

Replace `countWords` with your service's own tool; keep the shape: typed inputs with
descriptions (they become the input schema), a pydantic model as the result (it becomes the
output schema and the structured content), annotations that say what the tool touches, and
`ToolError` for failures the caller should read.
"""

from typing import Annotated

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

NAME = "tpl-service"
"""The server's name, and the namespace the gateway gives its tools (`tpl-service.countWords`)."""

VERSION = "0.1.0"

MAX_TEXT_CHARS = 100_000
"""The longest text accepted. A service bounds its own inputs: the gateway only limits the
size of a whole message."""

_INSTRUCTIONS = "Counts the words, lines and characters of a text with countWords."


class WordCount(BaseModel):
    """The result of countWords."""

    words: int = Field(description="Runs of non-whitespace characters.")
    lines: int = Field(description="Lines, counting a last line without a line break.")
    characters: int = Field(description="Unicode code points.")


def build_server() -> MCPServer:
    """Build the server; `__main__` runs it, the tests connect to it in memory."""
    mcp = MCPServer(NAME, version=VERSION, instructions=_INSTRUCTIONS)

    @mcp.tool(
        name="countWords",
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )
    async def count_words(
        text: Annotated[str, Field(description="The text to count.")],
    ) -> WordCount:
        """Count the words, lines and characters of a text."""
        if len(text) > MAX_TEXT_CHARS:
            raise ToolError(f"text is {len(text)} characters long; the limit is {MAX_TEXT_CHARS}")
        return WordCount(
            words=len(text.split()), lines=len(text.splitlines()), characters=len(text)
        )

    return mcp
