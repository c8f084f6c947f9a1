"""`micro-mcp tools | call | read | prompts | resources`: a client for a gateway, on the command
line. Each command connects (see `remote`), does one thing, prints it as a table or text (or
the raw result with `--json`) and exits: 0 done, 1 the gateway or the tool reported an error
(or could not be reached), 2 the arguments were unusable.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Final, cast

import mcp_types as types
from mcp import Client
from mcp.shared.exceptions import MCPError
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from rich.text import Text

from micro_mcp.cli import remote

MAX_PAGES: Final = 1000
"""Pages of a list read at most: a gateway whose cursors never end cannot hang the CLI."""
DESCRIPTION_WIDTH: Final = 72
"""Characters of an item's description shown in a table (its first line)."""


def add_parsers(commands: Any) -> None:
    """Add the client commands to the command line's subparsers."""
    tools = commands.add_parser("tools", help="list a gateway's tools (a table, or --json)")
    remote.add_arguments(tools)
    call = commands.add_parser("call", help="call a tool of a gateway and print its result")
    call.add_argument("name", help="the tool's name as the gateway exposes it (fs.listDir)")
    call.add_argument(
        "arguments",
        nargs="?",
        default="{}",
        help='the arguments as a JSON object (\'{"path": "."}\'); `-` reads them from stdin',
    )
    remote.add_arguments(call)
    read = commands.add_parser("read", help="read a resource of a gateway by its URI")
    read.add_argument("uri", help="the URI as the gateway exposes it (fs+file:///README.md)")
    remote.add_arguments(read)
    prompts = commands.add_parser("prompts", help="list a gateway's prompts (a table, or --json)")
    remote.add_arguments(prompts)
    resources = commands.add_parser(
        "resources", help="list a gateway's resources and resource templates"
    )
    remote.add_arguments(resources)


def run(args: argparse.Namespace, console: Console | None = None) -> int:
    """Run one client command; returns the exit code."""
    console = console or Console(width=None if sys.stdout.isatty() else 160)
    if args.command == "call":
        arguments = _arguments(args.arguments)
        if arguments is None:
            return 2

        async def call(client: Client) -> int:
            return await _call(client, args.name, arguments, args.json, console)

        return remote.run(remote.target(args), call)

    async def act(client: Client) -> int:
        try:
            return await _ACTIONS[args.command](client, args, console)
        except MCPError as exc:
            _print_error(exc)
            return 1

    return remote.run(remote.target(args), act)


def _arguments(text: str) -> dict[str, Any] | None:
    if text == "-":
        text = sys.stdin.read()
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        print(f"micro-mcp call: the arguments are not JSON: {exc}", file=sys.stderr)
        return None
    if not isinstance(value, dict):
        print("micro-mcp call: the arguments must be a JSON object", file=sys.stderr)
        return None
    return value  # pyright: ignore[reportUnknownVariableType]: checked to be an object


async def _call(
    client: Client, name: str, arguments: dict[str, Any], raw: bool, console: Console
) -> int:
    try:
        result = await client.call_tool(name, arguments)
    except MCPError as exc:
        _print_error(exc)
        return 1
    if raw:
        _print_json(result)
    else:
        for line in _content_lines(result.content):
            console.print(Text(line), soft_wrap=True)
        if not result.content and result.structured_content is not None:
            console.print_json(data=result.structured_content)
    return 1 if result.is_error else 0


async def _tools(client: Client, args: argparse.Namespace, console: Console) -> int:
    tools: list[types.Tool] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        tools += page.tools
        if (cursor := page.next_cursor) is None:
            break
    if args.json:
        _print_json(tools)
        return 0
    table = Table(title=f"{len(tools)} tools", title_justify="left")
    for header in ("name", "arguments (* required)", "description"):
        table.add_column(header, no_wrap=header == "name")
    for tool in tools:
        table.add_row(tool.name, _signature(tool.input_schema), _first_line(tool.description))
    console.print(table)
    return 0


async def _prompts(client: Client, args: argparse.Namespace, console: Console) -> int:
    prompts: list[types.Prompt] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_prompts(cursor=cursor)
        prompts += page.prompts
        if (cursor := page.next_cursor) is None:
            break
    if args.json:
        _print_json(prompts)
        return 0
    table = Table(title=f"{len(prompts)} prompts", title_justify="left")
    for header in ("name", "arguments (* required)", "description"):
        table.add_column(header, no_wrap=header == "name")
    for prompt in prompts:
        names = [f"{a.name}{'*' if a.required else ''}" for a in prompt.arguments or []]
        table.add_row(prompt.name, ", ".join(names), _first_line(prompt.description))
    console.print(table)
    return 0


async def _resources(client: Client, args: argparse.Namespace, console: Console) -> int:
    resources: list[types.Resource] = []
    templates: list[types.ResourceTemplate] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_resources(cursor=cursor)
        resources += page.resources
        if (cursor := page.next_cursor) is None:
            break
    cursor = None
    for _ in range(MAX_PAGES):
        listed = await client.list_resource_templates(cursor=cursor)
        templates += listed.resource_templates
        if (cursor := listed.next_cursor) is None:
            break
    if args.json:
        _print_json({"resources": resources, "resourceTemplates": templates})
        return 0
    table = Table(
        title=f"{len(resources)} resources, {len(templates)} templates", title_justify="left"
    )
    for header in ("uri", "name", "description"):
        table.add_column(header, no_wrap=header == "uri")
    for resource in resources:
        table.add_row(resource.uri, resource.name, _first_line(resource.description))
    for template in templates:
        table.add_row(template.uri_template, template.name, _first_line(template.description))
    console.print(table)
    return 0


async def _read(client: Client, args: argparse.Namespace, console: Console) -> int:
    result = await client.read_resource(args.uri)
    if args.json:
        _print_json(result)
        return 0
    for contents in result.contents:
        if isinstance(contents, types.TextResourceContents):
            console.print(Text(contents.text), soft_wrap=True)
        else:
            console.print(
                Text(f"[{contents.mime_type or 'binary'}: {len(contents.blob)} base64 characters]")
            )
    return 0


_ACTIONS: Final = {"tools": _tools, "prompts": _prompts, "resources": _resources, "read": _read}


def _content_lines(content: list[types.ContentBlock]) -> list[str]:
    lines: list[str] = []
    for block in content:
        match block:
            case types.TextContent(text=text):
                lines.append(text)
            case types.ImageContent(mime_type=mime) | types.AudioContent(mime_type=mime):
                lines.append(f"[{block.type}: {mime}]")
            case types.ResourceLink(uri=uri):
                lines.append(f"[resource link: {uri}]")
            case types.EmbeddedResource(resource=types.TextResourceContents(text=text)):
                lines.append(text)
            case types.EmbeddedResource(resource=resource):
                lines.append(f"[embedded resource: {resource.uri}]")
    return lines


def _signature(schema: dict[str, Any]) -> str:
    properties: object = schema.get("properties")
    if not isinstance(properties, dict):
        return ""
    required: object = schema.get("required")
    needed = (
        {str(name) for name in cast(list[Any], required)}
        if isinstance(required, list)
        else set[str]()
    )
    parts: list[str] = []
    for name, spec in cast(dict[str, Any], properties).items():
        kind = cast(dict[str, Any], spec).get("type", "any") if isinstance(spec, dict) else "any"
        parts.append(f"{name}{'*' if name in needed else ''}: {kind}")
    return ", ".join(parts)


def _first_line(text: str | None) -> str:
    line = (text or "").strip().split("\n", 1)[0]
    return line if len(line) <= DESCRIPTION_WIDTH else line[: DESCRIPTION_WIDTH - 1] + "…"


def _dump(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items()}  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, list):
        return [_dump(item) for item in value]  # pyright: ignore[reportUnknownVariableType]
    return value


def _print_json(value: Any) -> None:
    print(json.dumps(_dump(value), indent=2, ensure_ascii=False))


def _print_error(exc: MCPError) -> None:
    print(f"micro-mcp: error {exc.error.code}: {exc.error.message}", file=sys.stderr)
