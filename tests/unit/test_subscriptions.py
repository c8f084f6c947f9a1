"""Subscription bookkeeping: counting clients per URI, and what one listen must ask for."""

from __future__ import annotations

from typing import Any

import pytest

from micro_mcp.gateway.services.subscriptions import count, listen_wants


def test_count_tells_the_service_only_when_the_first_subscriber_comes_and_the_last_leaves():
    subscribed: dict[str, int] = {}
    steps = [("a", True), ("a", True), ("b", True), ("a", False), ("a", False), ("b", False)]
    told = [count(subscribed, uri, add) for uri, add in steps]
    assert told == [True, False, True, False, True, True]
    assert subscribed == {}


def test_count_keeps_the_number_of_subscribers_per_uri():
    subscribed: dict[str, int] = {}
    for uri in ("a", "a", "a", "b"):
        count(subscribed, uri, True)
    count(subscribed, "a", False)
    assert subscribed == {"a": 2, "b": 1}


@pytest.mark.parametrize(
    ("capabilities", "subscribed", "wanted"),
    [
        ({}, {}, {}),
        (
            {"tools": {"listChanged": True}, "prompts": {"listChanged": True}},
            {},
            {"toolsListChanged": True, "promptsListChanged": True},
        ),
        (
            {"resources": {"listChanged": True, "subscribe": True}, "prompts": {}},
            {},
            {"resourcesListChanged": True},
        ),
        # Only a declared listChanged counts: false, a non-object, or an absent key do not.
        ({"tools": {"listChanged": False}, "prompts": True, "resources": None}, {}, {}),
        (
            {"tools": {"listChanged": True}},
            {"file:///b": 1, "file:///a": 3},
            {"toolsListChanged": True, "resourceSubscriptions": ["file:///a", "file:///b"]},
        ),
        ({}, {"file:///a": 1}, {"resourceSubscriptions": ["file:///a"]}),
    ],
    ids=["nothing", "tools-and-prompts", "resources", "undeclared", "uris-sorted", "uris-only"],
)
def test_listen_wants_the_declared_list_changes_and_every_watched_uri(
    capabilities: dict[str, Any], subscribed: dict[str, int], wanted: dict[str, Any]
):
    assert listen_wants(capabilities, subscribed) == wanted
