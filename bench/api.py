"""Benchmark: requests/s and p99 latency of POST /workflow and GET /workflow/{id}, against a
bare JSON view served by the same process (`GET /bench/bare`, added only by
bench/support/serve.py --bare-view, behind the same Basic auth). Goal: ratio ≥ 0.5.

    .venv/bin/python bench/api.py [--requests 1000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402

from support import comfyui_body, machine, percentile, running, table, tiny_graph  # noqa: E402


def load(
    make_client: Callable[[], httpx.Client],
    request: Callable[[httpx.Client, int], httpx.Response],
    total: int,
    concurrency: int,
) -> tuple[float, float, list[httpx.Response]]:
    """Sends `total` requests from `concurrency` keep-alive clients: requests/s, p99 seconds."""
    local = threading.local()
    latencies: list[float] = []
    responses: list[httpx.Response] = []

    def one(index: int) -> None:
        if not hasattr(local, "client"):
            local.client = make_client()
        started = time.perf_counter()
        response = request(local.client, index)
        latencies.append(time.perf_counter() - started)
        assert response.status_code < 300, response.text
        responses.append(response)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(total)))
    elapsed = time.perf_counter() - started
    return total / elapsed, percentile(latencies, 0.99), responses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    n, c = args.requests, args.concurrency
    env = {"COMFY_ROUTER__PENDING_LIMIT": str(2 * n + 10), "COMFY_ROUTER__HISTORY_LIMIT": "50"}
    with running("--bare-view", **env) as setup:
        client = setup.router.client
        load(client, lambda http, i: http.get("/bench/bare"), 100, c)  # warm up
        bare = load(client, lambda http, i: http.get("/bench/bare"), n, c)
        health = load(client, lambda http, i: http.get("/health_check"), n, c)
        post = load(
            client, lambda http, i: http.post("/workflow", json=comfyui_body(tiny_graph(i))), n, c
        )
        ids = [response.json()["id"] for response in post[2]]
        get = load(client, lambda http, i: http.get(f"/workflow/{ids[i]}"), n, c)
    rows = [
        ["GET /bench/bare (baseline)", bare[0], bare[1] * 1000, 1.0],
        ["GET /health_check", health[0], health[1] * 1000, health[0] / bare[0]],
        ["POST /workflow", post[0], post[1] * 1000, post[0] / bare[0]],
        ["GET /workflow/{id}", get[0], get[1] * 1000, get[0] / bare[0]],
    ]
    print(f"api: {n} requests per endpoint, {c} keep-alive clients; no nodes: tasks stay pending")
    print(machine())
    print(table(["endpoint", "req/s", "p99 ms", "vs bare"], rows))


if __name__ == "__main__":
    main()
