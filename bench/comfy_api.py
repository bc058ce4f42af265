"""Benchmark: a ComfyUI client's prompt through the router's ComfyUI API against the same prompt
sent straight to a node, one at a time.

The same trivial graph (made to last `--job-ms` on the fake node) is run `--runs` times through
the router (WS /ws?clientId, POST /prompt, until the end marker `executing {node: null}`) and
`--runs` times straight on the same fake node, the same way. Interleaved, in the same run.
Goal: p50 ratio ≤ 1.10 for a 200 ms job, as for POST /workflow (bench/overhead.py).

    .venv/bin/python bench/comfy_api.py [--runs 200] [--job-ms 200]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from support import machine, percentile, running, table, tiny_graph  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


def run_prompt(http: httpx.Client, base_url: str, graph: dict[str, Any], **headers: str) -> float:
    """Seconds from opening the websocket to the prompt's end marker, as a ComfyUI script
    example waits for its prompt."""
    client_id = uuid.uuid4().hex
    ws_url = base_url.replace("http://", "ws://", 1)
    started = time.perf_counter()
    with connect(
        f"{ws_url}/ws?clientId={client_id}", additional_headers=headers, max_size=None
    ) as ws:
        response = http.post(f"{base_url}/prompt", json={"prompt": graph, "client_id": client_id})
        response.raise_for_status()
        prompt_id = response.json()["prompt_id"]
        while True:
            message = ws.recv(timeout=60)
            if isinstance(message, bytes):
                continue
            event = json.loads(message)
            data = event.get("data") or {}
            if event["type"] == "execution_error":
                raise RuntimeError(f"the prompt failed: {data}")
            if (
                event["type"] == "executing"
                and data.get("node") is None
                and data.get("prompt_id") == prompt_id
            ):
                return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--job-ms", type=float, default=200)
    args = parser.parse_args()
    with running() as setup:
        [fake] = setup.add_nodes(1, node_delay=args.job_ms / 2000)
        setup.wait_idle(1)
        router_url = setup.router.url
        direct: list[float] = []
        routed: list[float] = []
        with httpx.Client(timeout=30, headers=AUTH) as http, httpx.Client(timeout=30) as bare:
            for warmup in range(3):
                run_prompt(bare, fake.url, tiny_graph(10_000 + warmup))
                run_prompt(http, router_url, tiny_graph(20_000 + warmup), **AUTH)
            # Interleaved, so a busy moment on the machine hits both sides alike.
            for run in range(args.runs):
                direct.append(run_prompt(bare, fake.url, tiny_graph(2 * run)))
                routed.append(run_prompt(http, router_url, tiny_graph(2 * run + 1), **AUTH))
    rows = []
    for name, fraction in (("p50", 0.5), ("p95", 0.95)):
        d, r = percentile(direct, fraction), percentile(routed, fraction)
        rows.append([name, d * 1000, r * 1000, (r - d) * 1000, r / d])
    print(f"comfy_api: {args.runs} prompts of a {args.job_ms:g} ms job, one at a time")
    print(machine())
    print(table(["", "direct ms", "router ms", "added ms", "ratio"], rows))


if __name__ == "__main__":
    main()
