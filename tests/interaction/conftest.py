"""The in-memory gateway's tests run on asyncio, the backend the gateway ships on."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
