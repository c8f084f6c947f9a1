"""The http service: an MCP server fetching text from an allowlist of http(s) hosts.

See `server` for the tool, `allowlist` for host matching, `fetcher` for the hop-by-hop
redirect, size and content-type rules, and `connector` with `addresses` for the SSRF guard:
every connection goes to an address that was resolved once and checked.
"""

from importlib.util import find_spec

if find_spec("bs4") is None or find_spec("markdownify") is None:
    # The gateway alone is installed without the example services' libraries.
    raise ImportError(
        "the http service needs beautifulsoup4 and markdownify, which come with micro-mcp's "
        "`examples` extra: pip install '.[examples]' from the clone"
    )

from micro_mcp.services.http.fetcher import FetchSettings
from micro_mcp.services.http.server import build_server

__all__ = ["FetchSettings", "build_server"]
