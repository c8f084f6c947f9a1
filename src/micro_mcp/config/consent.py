"""The `consent` section of the gateway config: which calls wait for a human's approval."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ConsentSpec(BaseModel):
    """Tools whose calls the gateway first puts to the human behind the client (MCP
    elicitation), and how long an approval is remembered."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    tools: tuple[str, ...] = ()
    """Glob patterns over canonical `namespace.name` tool subjects (as in `policy`), e.g.
    `fs.write*`; a call to a matching tool runs only once the human approved it. Empty: no
    call asks, and none pays for the check beyond one comparison."""
    remember_seconds: float = Field(default=600.0, ge=0, alias="rememberSeconds")
    """How long an approval stands: for a handshake-era client, on its session; for a
    2026-07-28 client (which has no session), for its principal. 0: ask every time."""
    remember: Literal["tool", "arguments"] = "tool"
    """What a remembered approval covers: `tool`, further calls of the same tool with any
    arguments; `arguments`, only calls with the very same arguments."""
    timeout: float = Field(default=300.0, gt=0)
    """Seconds the human has to answer: the deadline of a handshake-era client's
    `elicitation/create`, and how long a 2026-07-28 consent request's `requestState` stays
    valid."""
