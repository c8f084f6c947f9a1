"""The vector service's exceptions; each message is meant for the client or the operator.

```
VectorError
├─ StoreError    a refused store operation: bad input, a full store, an unknown id or
│                collection, a database that cannot be opened or written
└─ EncoderError  the embedding model cannot be loaded (start-up only)
```
"""


class VectorError(Exception):
    """Base of the vector service's exceptions."""


class StoreError(VectorError):
    """A refused store operation; the message is safe to show to the client."""


class EncoderError(VectorError):
    """The embedding model cannot be loaded; the message says what is missing."""
