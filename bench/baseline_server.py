"""The baseline: a plain `websockets` broadcast server doing the least a hub could do.

Clients connect to /ws/, send an auth frame and get a hello; the driver connects to /publish
and every text it sends is broadcast to all clients with ``websockets.broadcast``.
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import broadcast, serve

clients: set = set()


async def handler(ws) -> None:
    if ws.request.path == "/publish":
        async for message in ws:
            broadcast(clients, message)
        return
    await ws.recv()  # the auth frame
    await ws.send(json.dumps({"type": "hello", "latest_event_id": 0}))
    clients.add(ws)
    try:
        async for _ in ws:
            pass
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    async with serve(
        handler,
        "127.0.0.1",
        port,
        compression=None,
        max_queue=None,
        backlog=4096,
        ping_interval=None,
    ):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
