"""The table of calls in flight: by service and the id the service saw."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from micro_mcp.gateway.clients.calls import CallContext, CallTable
from micro_mcp.gateway.clients.client import ClientSession
from micro_mcp.protocol.jsonrpc import Message, RequestId


async def _nowhere(message: Message, related: RequestId | None) -> None:
    raise AssertionError("the table never sends")


def _client() -> ClientSession:
    return ClientSession(_nowhere, None)


@contextmanager
def held(
    table: CallTable, namespace: str, upstream_id: RequestId, call: CallContext
) -> Iterator[None]:
    """The call in the table while the block runs, as the relay holds it around a call."""
    table.add(namespace, upstream_id, call)
    try:
        yield
    finally:
        table.discard(namespace, upstream_id)


def test_a_call_is_found_by_service_and_upstream_id_only_while_it_is_open():
    table, call = CallTable(), CallContext(_client(), "client-7", "tok", None)
    with held(table, "fs", 41, call):
        assert table.get("fs", 41) is call
        assert (table.get("web", 41), table.get("fs", 42), len(table)) == (None, None, 1)
    assert (table.get("fs", 41), len(table)) == (None, 0)


def test_a_call_leaves_the_table_when_its_call_raises():
    table = CallTable()
    with (
        pytest.raises(RuntimeError),
        held(table, "fs", "up-1", CallContext(_client(), 1, None, None)),
    ):
        raise RuntimeError("the call failed")
    assert (table.get("fs", "up-1"), len(table)) == (None, 0)


@pytest.mark.parametrize("name", [True, False, ["1"], {"id": 1}, None, 1.0])
def test_get_finds_nothing_for_what_is_not_a_request_id(name: object):
    table = CallTable()
    with held(table, "fs", 1, CallContext(_client(), 1, None, None)):
        # True == 1 and hash(1.0) == hash(1): neither may name call 1; a list must not raise.
        assert table.get("fs", name) is None


def test_of_service_lists_one_services_calls_oldest_first():
    table, client = CallTable(), _client()
    first, second, other = (CallContext(client, i, None, None) for i in (1, 2, 3))
    with held(table, "fs", 10, first), held(table, "web", 11, other), held(table, "fs", 12, second):
        assert table.of_service("fs") == [first, second]
        assert table.of_service("web") == [other]
        assert table.of_service("vector") == []


def test_behind_is_the_call_the_channel_names():
    table, client = CallTable(), _client()
    named, latest = CallContext(client, 1, None, None), CallContext(_client(), 2, None, None)
    with held(table, "fs", 10, named), held(table, "fs", 11, latest):
        assert table.behind("fs", 10) is named
        assert table.behind("fs", 99) is None


def test_behind_without_a_channel_is_the_latest_call_when_one_client_made_them_all():
    table, client = CallTable(), _client()
    older, newer = CallContext(client, 1, None, None), CallContext(client, 2, None, None)
    assert table.behind("fs", None) is None
    with held(table, "fs", 10, older), held(table, "fs", 11, newer):
        assert table.behind("fs", None) is newer
        with held(table, "fs", 12, CallContext(_client(), 3, None, None)):
            assert table.behind("fs", None) is None  # two clients: stdio cannot tell whose
