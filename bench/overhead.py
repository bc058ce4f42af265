"""Benchmark: the router's own overhead on one task at a time.

The same trivial graph (made to last `--job-ms` on the fake node) is run `--runs` times through
the router (POST /workflow, then WS /ws/workflow/{id} until its final event) and `--runs` times
straight on the same fake node (WS /ws?clientId, POST /prompt, until execution_success).
Goal: p50 ratio ≤ 1.10 for a 200 ms job.

    .venv/bin/python bench/overhead.py [--runs 200] [--job-ms 200]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from support import comfyui_body, machine, percentile, running, table, tiny_graph  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

AUTH = "Basic " + base64.b64encode(b"admin:admin").decode()


def through_router(http: httpx.Client, ws_url: str, seed: int) -> float:
    started = time.perf_counter()
    response = http.post("/workflow", json=comfyui_body(tiny_graph(seed)))
    response.raise_for_status()
    task_id = response.json()["id"]
    headers = {"Authorization": AUTH}
    with connect(f"{ws_url}/ws/workflow/{task_id}", additional_headers=headers) as ws:
        while True:
            event = json.loads(ws.recv(timeout=60))
            if event["type"] == "finished":
                assert event["status"] == "done", event
                return time.perf_counter() - started


def straight_to_node(http: httpx.Client, node_url: str, seed: int) -> float:
    client_id = uuid.uuid4().hex
    started = time.perf_counter()
    ws_url = node_url.replace("http://", "ws://")
    with connect(f"{ws_url}/ws?clientId={client_id}", max_size=None) as ws:
        response = http.post(
            f"{node_url}/prompt", json={"prompt": tiny_graph(seed), "client_id": client_id}
        )
        response.raise_for_status()
        prompt_id = response.json()["prompt_id"]
        while True:
            message = ws.recv(timeout=60)
            if isinstance(message, bytes):
                continue
            event = json.loads(message)
            data = event.get("data", {})
            if event["type"] == "execution_success" and data.get("prompt_id") == prompt_id:
                return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--job-ms", type=float, default=200)
    args = parser.parse_args()
    with running() as setup:
        [fake] = setup.add_nodes(1, node_delay=args.job_ms / 2000)
        setup.wait_idle(1)
        direct: list[float] = []
        routed: list[float] = []
        with setup.router.client() as http, httpx.Client(timeout=30) as bare:
            for warmup in range(3):
                straight_to_node(bare, fake.url, seed=10_000 + warmup)
                through_router(http, setup.router.ws_url, seed=20_000 + warmup)
            # Interleaved, so a busy moment on the machine hits both sides alike.
            for run in range(args.runs):
                direct.append(straight_to_node(bare, fake.url, seed=2 * run))
                routed.append(through_router(http, setup.router.ws_url, seed=2 * run + 1))
    rows = []
    for name, fraction in (("p50", 0.5), ("p95", 0.95)):
        d, r = percentile(direct, fraction), percentile(routed, fraction)
        rows.append([name, d * 1000, r * 1000, (r - d) * 1000, r / d])
    print(f"overhead: {args.runs} runs of a {args.job_ms:g} ms job, one at a time")
    print(machine())
    print(table(["", "direct ms", "router ms", "added ms", "ratio"], rows))


if __name__ == "__main__":
    main()
