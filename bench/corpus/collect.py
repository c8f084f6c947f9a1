"""Collect real tool definitions from MCP servers published on npm and PyPI.

For each candidate package (chosen from the package lists by name and downloads, see
`candidates`), install the pinned version, start it over stdio with a clean environment (no
keys, an empty HOME), send `initialize`, `notifications/initialized` and `tools/list` (every
page), and keep what it lists. A server that does not answer within the timeout, exits, or
lists nothing is recorded as an attempt and skipped. Re-runnable: results are kept per package
in a cache folder and the corpus is written again from all of them.

    python bench/corpus/collect.py --limit 300 --jobs 3
    python bench/corpus/collect.py --write-only     # rebuild tools.json.gz from the cache
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import gzip
import json
import os
import queue
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE = ROOT / ".cache" / "corpus"
PACKAGES = Path("/work/.library/env/packages")
OUT = HERE / "tools.json.gz"

_SKIP = re.compile(
    r"sdk|client|inspector|types|-(linux|darwin|windows|win32)-|template|boilerplate|"
    r"framework|create-|proxy|bridge|gateway|remote|adapter|cli$|core$|toolkit|devtools|utils|"
    r"provider|session|middleware|instrumentation|nodes|transport|tunnel|addon|hono|nest|use-mcp"
)


def candidates(limit: int, min_downloads: int) -> list[tuple[str, str, str]]:
    """(registry, name, version) of likely servers, most downloaded first."""
    found: list[tuple[int, str, str, str]] = []
    with (PACKAGES / "npm.tsv").open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            name, version, downloads = parts[0], parts[1], parts[2]
            low = name.lower()
            looks_like_a_server = (
                "mcp-server" in low
                or low.endswith("-mcp")
                or "/mcp-" in low
                or ("server-" in low and "mcp" in low)
            )
            popular = downloads.isdigit() and int(downloads) >= min_downloads
            if looks_like_a_server and popular and not _SKIP.search(low):
                found.append((int(downloads), "npm", name, version))
    found.sort(reverse=True)
    return [(registry, name, version) for _, registry, name, version in found[:limit]]


_MANY_TOOLS = re.compile(r"(\d+)\+? (?:[\w-]+ ){0,3}tools", re.IGNORECASE)


def announced(limit: int, min_downloads: int, min_tools: int) -> list[tuple[str, str, str]]:
    """(registry, name, version) of servers whose summary announces at least `min_tools`
    tools, most announced first: few packages, many tools."""
    found: list[tuple[int, str, str, str]] = []
    with (PACKAGES / "npm.tsv").open(encoding="utf-8") as lines:
        next(lines)
        for line in lines:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 4 or "mcp" not in parts[0].lower() or not parts[2].isdigit():
                continue
            match = _MANY_TOOLS.search(parts[3])
            if match and int(match[1]) >= min_tools and int(parts[2]) >= min_downloads:
                found.append((int(match[1]), "npm", parts[0], parts[1]))
    found.sort(reverse=True)
    return [(registry, name, version) for _, registry, name, version in found[:limit]]


def _clean_env(home: str) -> dict[str, str]:
    keep = {
        k: v
        for k, v in os.environ.items()
        if k in ("PATH", "LANG", "LC_ALL", "TERM", "NODE_EXTRA_CA_CERTS", "SSL_CERT_FILE")
        or k.lower().endswith("_proxy")
    }
    return {
        **keep,
        "HOME": home,
        "npm_config_cache": str(CACHE / "npm-cache"),
        "NO_UPDATE_NOTIFIER": "1",
        "CI": "1",
    }


def list_tools(argv: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """Start `argv`, do the handshake, and return serverInfo and every listed tool."""
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=env["HOME"],
        start_new_session=True,
    )
    replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
    stderr_tail: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if isinstance(message, dict) and "id" in message and "method" not in message:
                replies.put(message)
        replies.put(None)

    def drain() -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            stderr_tail.append(raw.decode("utf-8", "replace"))
            del stderr_tail[:-20]

    threading.Thread(target=pump, daemon=True).start()
    threading.Thread(target=drain, daemon=True).start()
    deadline = time.monotonic() + timeout

    def send(message: dict[str, Any]) -> None:
        assert proc.stdin is not None
        proc.stdin.write(json.dumps(message).encode() + b"\n")
        proc.stdin.flush()

    def await_reply(request_id: int) -> dict[str, Any]:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no reply in time")
            try:
                reply = replies.get(timeout=left)
            except queue.Empty:
                raise TimeoutError("no reply in time") from None
            if reply is None:
                raise RuntimeError("exited: " + "".join(stderr_tail)[-400:])
            if reply.get("id") == request_id:
                if "error" in reply:
                    raise RuntimeError(f"error: {reply['error']}")
                return reply["result"]

    try:
        send(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-06-18",
                    "capabilities": {},
                    "clientInfo": {"name": "micro-mcp-corpus", "version": "1"},
                },
            }
        )
        init = await_reply(1)
        send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for request_id in range(2, 50):
            params = {"cursor": cursor} if cursor else {}
            send({"jsonrpc": "2.0", "id": request_id, "method": "tools/list", "params": params})
            page = await_reply(request_id)
            tools.extend(t for t in page.get("tools", []) if isinstance(t, dict))
            cursor = page.get("nextCursor")
            if not cursor:
                break
        return {"serverInfo": init.get("serverInfo"), "tools": tools}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.wait()


def collect_one(registry: str, name: str, version: str, timeout: float) -> dict[str, Any]:
    """Install and ask one package; the record written to the cache."""
    record: dict[str, Any] = {
        "registry": registry,
        "package": name,
        "version": version,
        "collected": datetime.date.today().isoformat(),
    }
    with tempfile.TemporaryDirectory(prefix="corpus-home-") as home:
        env = _clean_env(home)
        try:
            if registry == "npm":
                install = subprocess.run(
                    [
                        "npm",
                        "install",
                        "--prefix",
                        home,
                        "--no-audit",
                        "--no-fund",
                        "--loglevel=error",
                        "--ignore-scripts",
                        f"{name}@{version}",
                    ],
                    env={**os.environ, "npm_config_cache": env["npm_config_cache"]},
                    capture_output=True,
                    timeout=300,
                    check=False,
                )
                if install.returncode != 0:
                    raise RuntimeError("install failed: " + install.stderr.decode()[-300:])
                argv = ["npx", "--no-install", "--prefix", home, name]
                bins = _npm_bins(Path(home) / "node_modules" / name / "package.json")
                if bins:
                    argv = [str(Path(home) / "node_modules" / ".bin" / bins[0])]
            else:
                raise RuntimeError(f"unknown registry {registry}")
            record.update(list_tools(argv, env, timeout))
            record["outcome"] = "ok" if record["tools"] else "no tools"
        except (subprocess.TimeoutExpired, TimeoutError) as exc:
            record["outcome"] = f"timeout: {exc}"
        except (RuntimeError, OSError, KeyError, ValueError) as exc:
            record["outcome"] = str(exc)[:500]
    return record


def _npm_bins(manifest: Path) -> list[str]:
    data = json.loads(manifest.read_text())
    bin_field = data.get("bin")
    if isinstance(bin_field, str):
        return [data["name"].split("/")[-1]]
    if isinstance(bin_field, dict):
        names = list(bin_field)
        short = data["name"].split("/")[-1]
        return sorted(names, key=lambda n: n != short)
    return []


def _cache_path(registry: str, name: str) -> Path:
    return CACHE / "results" / f"{registry}--{name.replace('/', '__')}.json"


def write_corpus() -> tuple[int, int]:
    """Merge the cached results into tools.json.gz; identical definitions (forks, per-platform
    builds) are kept once. Returns (servers, tools)."""
    servers: list[dict[str, Any]] = []
    attempts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for path in sorted((CACHE / "results").glob("*.json")):
        record = json.loads(path.read_text())
        attempts.append({k: record[k] for k in ("registry", "package", "version", "outcome")})
        if record.get("outcome") != "ok":
            continue
        tools = []
        for tool in record["tools"]:
            definition = {k: tool[k] for k in ("name", "description", "inputSchema") if k in tool}
            key = json.dumps(definition, sort_keys=True)
            if isinstance(definition.get("name"), str) and key not in seen:
                seen.add(key)
                tools.append(definition)
        if tools:
            servers.append(
                {
                    k: record[k]
                    for k in ("registry", "package", "version", "collected", "serverInfo")
                }
                | {"tools": tools}
            )
    corpus = {"made_by": "bench/corpus/collect.py", "servers": servers, "attempts": attempts}
    with gzip.open(OUT, "wt", encoding="utf-8", compresslevel=9) as out:
        json.dump(corpus, out, ensure_ascii=False, sort_keys=True)
    return len(servers), sum(len(s["tools"]) for s in servers)


def main() -> None:
    """Collect, then write the corpus."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=300)
    parser.add_argument("--min-downloads", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=40.0)
    parser.add_argument("--write-only", action="store_true")
    parser.add_argument(
        "--announced",
        type=int,
        metavar="N",
        help="instead: packages whose summary announces at least N tools",
    )
    args = parser.parse_args()
    (CACHE / "results").mkdir(parents=True, exist_ok=True)
    if not args.write_only:
        chosen = (
            candidates(args.limit, args.min_downloads)
            if args.announced is None
            else announced(args.limit, args.min_downloads, args.announced)
        )
        todo = [c for c in chosen if not _cache_path(c[0], c[1]).exists()]
        print(f"{len(todo)} packages to try", file=sys.stderr)
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = {pool.submit(collect_one, *c, args.timeout): c for c in todo}
            for future in concurrent.futures.as_completed(futures):
                record = future.result()
                _cache_path(record["registry"], record["package"]).write_text(json.dumps(record))
                print(
                    f"{record['package']}: {record['outcome'][:80]} "
                    f"({len(record.get('tools', []))} tools)",
                    file=sys.stderr,
                    flush=True,
                )
    servers, tools = write_corpus()
    print(f"corpus: {servers} servers, {tools} tools -> {OUT}", file=sys.stderr)


if __name__ == "__main__":
    main()
