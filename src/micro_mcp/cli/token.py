"""`micro-mcp token`: make a static token and print the digest the config keeps of it.

    micro-mcp token new            a fresh random token (stdout) and its tokenSha256 (stderr)
    micro-mcp token hash           the tokenSha256 of a token read from stdin (one line)

Reading from stdin keeps the token out of the process list and the shell's history.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from typing import TextIO

from micro_mcp.policy.engine import token_digest

MIN_LENGTH = 16
"""Static tokens shorter than this are refused, as in the config."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `token` subcommands to `parser`."""
    actions = parser.add_subparsers(dest="token_command", required=True)
    actions.add_parser("new", help="print a fresh random token, and its tokenSha256 on stderr")
    actions.add_parser("hash", help="print the tokenSha256 of a token read from stdin")


def run(args: argparse.Namespace, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout) -> int:
    """Run `micro-mcp token ...`; returns the exit code."""
    if args.token_command == "new":
        token = secrets.token_urlsafe(32)
        print(token, file=stdout)
        print(f'"tokenSha256": "{token_digest(token).hex()}"', file=sys.stderr)
        return 0
    token = stdin.readline().strip()
    if len(token) < MIN_LENGTH:
        print(f"micro-mcp: a token has at least {MIN_LENGTH} characters", file=sys.stderr)
        return 2
    print(token_digest(token).hex(), file=stdout)
    return 0
