"""The `discovery` section of the gateway config: progressive discovery through meta-tools."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

_NAME = r"^[A-Za-z0-9_.-]{1,64}$"


class DiscoveryNames(BaseModel):
    """The names the three meta-tools are listed and called by."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    search: str = Field(default="gateway.searchTools", pattern=_NAME)
    """The ranked search: `{query, limit?}` -> names and short descriptions, best first."""
    describe: str = Field(default="gateway.describeTool", pattern=_NAME)
    """One tool's whole definition: `{name}` -> the tool as listed, input schema included."""
    call: str = Field(default="gateway.callTool", pattern=_NAME)
    """A call by name: `{name, arguments}` -> the tool's own result, through policy, rules,
    rate limits and consent as a direct call."""

    @model_validator(mode="after")
    def _distinct(self) -> DiscoveryNames:
        if len({self.search, self.describe, self.call}) != 3:
            raise ValueError("search, describe and call need three different names")
        return self


class DiscoverySpec(BaseModel):
    """Meta-tools with which a host starts from three tools and finds the rest: a ranked
    search over the tools the caller may use, a tool's full definition, and a call by name
    that goes through policy, rules, rate limits and consent as a direct call does."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, use_attribute_docstrings=True
    )

    enabled: bool = False
    """Off: no meta-tools, and tools/list and tools/call pay nothing for them."""
    names: DiscoveryNames = DiscoveryNames()
    """What the three meta-tools are called (1-64 of `[A-Za-z0-9_.-]`); they shadow a
    service's tool of the same name."""
    listing: Literal["meta", "all"] = "meta"
    """What tools/list shows while discovery is on: `meta`, the three meta-tools only (the
    point: a host's context holds three definitions); `all`, the meta-tools before every tool
    the caller may use."""
    limit: int = Field(default=10, ge=1, le=100)
    """Results of a search when the query gives no `limit`; a query may ask for up to
    `maxLimit`."""
    max_limit: int = Field(default=50, ge=1, le=1000, alias="maxLimit")
    """The most results a search returns, whatever its `limit` asks."""

    @model_validator(mode="after")
    def _limits(self) -> DiscoverySpec:
        if self.limit > self.max_limit:
            raise ValueError(f"limit {self.limit} is above maxLimit {self.max_limit}")
        return self
