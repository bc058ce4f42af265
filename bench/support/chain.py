"""The utilisation bench's baseline: prompts chained straight onto each node, no router.

    python bench/support/chain.py --tasks 400 http://127.0.0.1:PORT ...

Each node gets its share up front (every n-th prompt: the best split for equal prompts) and one
websocket; the next
prompt is POSTed the moment the node reports `execution_success` for the previous one. No
database, no queue, no scheduling: what is left between two prompts is the node's own time and
one client's round trips in one interpreter, the least any router in Python could add. Run in a
process of its own, as the router is. Timings come from the nodes' logs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from pathlib import Path

import httpx
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support import tiny_graph  # noqa: E402


async def chain(http: httpx.AsyncClient, node_url: str, seeds: range) -> None:
    client_id = uuid.uuid4().hex
    ws_url = node_url.replace("http://", "ws://", 1)
    async with connect(f"{ws_url}/ws?clientId={client_id}", max_size=None) as websocket:
        for seed in seeds:
            response = await http.post(
                f"{node_url}/prompt", json={"prompt": tiny_graph(seed), "client_id": client_id}
            )
            response.raise_for_status()
            prompt_id = response.json()["prompt_id"]
            async for message in websocket:
                if isinstance(message, bytes):
                    continue
                event = json.loads(message)
                if event["data"].get("prompt_id") != prompt_id:
                    continue
                if event["type"] == "execution_success":
                    break
                if event["type"] in ("execution_error", "execution_interrupted"):
                    raise RuntimeError(f"{node_url}: prompt {prompt_id} ended {event['type']}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, required=True)
    parser.add_argument("nodes", nargs="+")
    args = parser.parse_args()
    nodes = len(args.nodes)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=nodes)) as http:
        await asyncio.gather(
            *(chain(http, url, range(i, args.tasks, nodes)) for i, url in enumerate(args.nodes))
        )


if __name__ == "__main__":
    asyncio.run(main())
