"""The exceptions of the http service.

```
FetchError            a refused or failed fetch; its message is shown to the client
└─ AddressRefused     a host resolved to an address the service may not connect to
```

The service is a standalone server and cannot import micro_mcp's own exception tree; the
tool turns every `FetchError` into an `isError` result carrying its message.
"""

from __future__ import annotations


class FetchError(Exception):
    """A refused or failed fetch; the message is safe to show to the client."""


class AddressRefused(FetchError):
    """The host's address is internal (loopback, private, ...) and was not allowed."""
