"""Benchmark: requests/s and p99 latency of POST /workflow and GET /workflow/{id}, against a
bare JSON view served by the same process (`GET /bench/bare`, added only by
bench/support/serve.py --bare-view, behind the same Basic auth). Goal: ratio ≥ 0.5.

Every endpoint is warmed up first, then measured in turns (`--rounds`): bare, health, POST, GET,
bare, ..., so that the machine's ups and downs fall on each alike.

    .venv/bin/python bench/api.py [--requests 1000] [--concurrency 8] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx  # noqa: E402
from support import comfyui_body, machine, percentile, running, table, tiny_graph  # noqa: E402


class Load:
    """`concurrency` threads, each with its own keep-alive client for the whole run."""

    def __init__(self, make_client: Callable[[], httpx.Client], concurrency: int) -> None:
        self.make_client = make_client
        self.local = threading.local()
        self.pool = ThreadPoolExecutor(concurrency)

    def run(
        self, request: Callable[[httpx.Client, int], httpx.Response], indexes: range
    ) -> Measured:
        """Sends one request per index, `concurrency` at a time."""
        measured = Measured()

        def one(index: int) -> None:
            if not hasattr(self.local, "client"):
                self.local.client = self.make_client()
            started = time.perf_counter()
            response = request(self.local.client, index)
            measured.latencies.append(time.perf_counter() - started)
            assert response.status_code < 300, response.text
            measured.responses.append(response)

        started = time.perf_counter()
        list(self.pool.map(one, indexes))
        measured.seconds = time.perf_counter() - started
        return measured


@dataclass
class Measured:
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    responses: list[httpx.Response] = field(default_factory=list)

    def add(self, other: Measured) -> None:
        self.seconds += other.seconds
        self.latencies += other.latencies
        self.responses += other.responses

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies, 0.99) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    n, c, rounds = args.requests, args.concurrency, args.rounds
    per_round = n // rounds
    warm_up = 100
    limit = str(n + warm_up + 10)
    env = {"COMFY_ROUTER__PENDING_LIMIT": limit, "COMFY_ROUTER__HISTORY_LIMIT": "50"}
    ids: list[str] = []

    def submit(http: httpx.Client, i: int) -> httpx.Response:
        return http.post("/workflow", json=comfyui_body(tiny_graph(i)))

    endpoints: dict[str, Callable[[httpx.Client, int], httpx.Response]] = {
        "GET /bench/bare (baseline)": lambda http, i: http.get("/bench/bare"),
        "GET /health_check": lambda http, i: http.get("/health_check"),
        "POST /workflow": submit,
        "GET /workflow/{id}": lambda http, i: http.get(f"/workflow/{ids[i % len(ids)]}"),
    }
    totals = {name: Measured() for name in endpoints}
    cpu = dict.fromkeys(endpoints, 0.0)  # the router's CPU seconds while each endpoint was loaded
    with running("--bare-view", **env) as setup:
        load = Load(setup.router.client, c)
        for request in endpoints.values():  # every path once through before measuring
            done = load.run(request, range(warm_up))
            if request is submit:
                ids += [response.json()["id"] for response in done.responses]
        # In turns, so that the machine's ups and downs fall on every endpoint alike.
        for turn in range(rounds):
            for name, request in endpoints.items():
                before = setup.cpu_seconds()
                measured = load.run(request, range(turn * per_round, (turn + 1) * per_round))
                cpu[name] += setup.cpu_seconds() - before
                totals[name].add(measured)
        load.pool.shutdown()
    bare = totals["GET /bench/bare (baseline)"]
    rows = [
        [name, m.rate, m.p99_ms, m.rate / bare.rate, 1000 * cpu[name] / len(m.latencies)]
        for name, m in totals.items()
    ]
    print(
        f"api: {per_round * rounds} requests per endpoint in {rounds} turns, {c} keep-alive "
        "clients; no nodes: tasks stay pending"
    )
    print(machine())
    # The router's CPU per request (all its threads): with its one interpreter near saturation,
    # the ratio of these is what the ratio of the rates follows.
    print(table(["endpoint", "req/s", "p99 ms", "vs bare", "router CPU ms/req"], rows))


if __name__ == "__main__":
    main()
