"""A flood of calls on one tool, from a process of its own: the load in the isolation benchmark.

    python bench/flood.py URL TOKEN TOOL CONNECTIONS RATE

Each connection calls TOOL in a loop until the process is stopped (SIGTERM): together RATE calls
a second (each connection on its own schedule, whatever the answers take), or as fast as they
can when RATE is 0. It then prints how many calls were answered and how many were refused as
overloaded, as JSON. Being a separate
process, its own work does not slow down the client that measures the other service.
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from clients import HttpClient

OVERLOADED = -32015


async def main(url: str, token: str, tool: str, connections: int, rate: float) -> None:
    counts = {"answered": 0, "overloaded": 0, "other_errors": 0}
    call = {"name": tool, "arguments": {"text": "flood"}}

    interval = connections / rate if rate > 0 else 0.0

    async def worker(client: HttpClient, offset: float) -> None:
        due = anyio.current_time() + offset  # staggered: the connections do not call in step
        while True:
            if interval:
                due += interval
                await anyio.sleep_until(due)
            reply = await client.call("tools/call", call)
            error = reply.get("error")
            key = (
                "answered"
                if error is None
                else "overloaded"
                if error["code"] == OVERLOADED
                else "other_errors"
            )
            counts[key] += 1

    clients = [await HttpClient.connect(url, "handshake", token) for _ in range(connections)]
    with anyio.open_signal_receiver(signal.SIGTERM) as signals:
        async with anyio.create_task_group() as tg:
            for number, client in enumerate(clients):
                tg.start_soon(worker, client, interval * number / connections)
            print("flooding", file=sys.stderr, flush=True)
            async for _ in signals:
                tg.cancel_scope.cancel()
                break
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
