"""The fs service's exceptions; every message is safe to show to the client.

```
FsError                 any refused or failed file access
├─ PathRefused          the path is malformed or leads outside the root; nothing was opened
└─ PathNotFound         the path lies inside the root but does not exist
```

A message only ever repeats what the caller sent and names inside the root; it never names
a symlink's target or any path outside the root. The service package has its own tree (not
`micro_mcp.errors`) because it must run without the rest of micro_mcp.
"""

from __future__ import annotations


class FsError(Exception):
    """A refused or failed file access; the message is safe to show to the client."""


class PathRefused(FsError):
    """The path is malformed, or it (or a symlink on the way) leads outside the root."""


class PathNotFound(FsError):
    """The path lies inside the root but does not exist."""
