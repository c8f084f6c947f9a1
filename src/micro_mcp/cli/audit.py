"""`micro-mcp audit verify FILE...`: check that an audit trail is as it was written.

    micro-mcp audit verify audit.jsonl.1 audit.jsonl.2 audit.jsonl

Files are taken in the order of their first record (a glob will do), as one chain. Exit codes:
0 the trail is intact; 1 a line was changed, removed, reordered or cut short (each place is
printed as FILE:LINE: what); 2 a file or the key could not be read. With the deployment key
(`$MICRO_MCP_AUDIT_KEY`, `--key-env`, `--key-file`) every line's MAC is checked too; without
it only the chain is, and someone who rewrites every line from an edit on is not caught:
compare the printed head hash with one recorded earlier.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from micro_mcp.audit.chain import RECORD_KEY_LABEL, derive
from micro_mcp.audit.keys import load_key
from micro_mcp.audit.verify import read_lines, verify
from micro_mcp.errors import ConfigError

SHOWN = 50
"""Problems printed at most; the count says how many there are."""


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the `audit` subcommands to `parser`."""
    actions = parser.add_subparsers(dest="audit_command", required=True)
    check = actions.add_parser("verify", help="check the hash chain (and MACs) of audit files")
    check.add_argument("files", nargs="+", metavar="FILE", help="JSON-lines files or databases")
    check.add_argument(
        "--key-env", default="MICRO_MCP_AUDIT_KEY", help="variable holding the audit key"
    )
    check.add_argument("--key-file", help="file holding the audit key (audit.key_file)")
    check.add_argument(
        "--partial", action="store_true", help="accept a trail whose first files were removed"
    )


def run(
    args: argparse.Namespace,
    stdout: TextIO = sys.stdout,
    environ: Mapping[str, str] = os.environ,
) -> int:
    """Run `micro-mcp audit verify`; returns the exit code."""
    try:
        if args.key_file is not None and not Path(args.key_file).is_file():
            raise ConfigError(f"--key-file {args.key_file}: no such file")
        key = load_key(args.key_env, args.key_file, environ)
        files = [(name, read_lines(name)) for name in args.files]
    except (ConfigError, OSError, sqlite3.Error) as exc:
        print(f"micro-mcp: {exc}", file=sys.stderr)
        return 2
    report = verify(files, derive(key, RECORD_KEY_LABEL) if key else None, partial=args.partial)
    for problem in report.problems[:SHOWN]:
        print(problem, file=stdout)
    span = f"seq {report.first_seq}..{report.last_seq}" if report.last_seq is not None else "empty"
    macs = "MACs checked" if report.macs_checked else "MACs not checked (no key)"
    summary = f"{report.records} records ({span}) in {len(files)} file(s); {macs}"
    if not report.ok:
        print(f"BROKEN: {len(report.problems)} problem(s); {summary}", file=stdout)
        return 1
    print(f"OK: {summary}; head {report.head}", file=stdout)
    return 0
