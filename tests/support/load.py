"""Concurrent clients against a live router: `GET /workflow/{id}` and `POST /workflow` mixed,
for the load test and bench/load.py. Bounded by request count; every request is to loopback."""

from __future__ import annotations

import random
import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.cluster import FINISHED, comfyui_body, tiny_graph
from tests.support.live_router import CREDENTIALS


@dataclass
class LoadResult:
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    latencies: dict[str, list[float]] = field(default_factory=lambda: {"GET": [], "POST": []})
    accepted: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    final: dict[str, str] = field(default_factory=dict)
    settle_seconds: float = 0.0

    @property
    def server_errors(self) -> int:
        return sum(count for (_, status), count in self.statuses.items() if status >= 500)

    def summary(self) -> str:
        lines = []
        total = sum(self.statuses.values())
        lines.append(f"{total} requests in {self.seconds:.2f} s ({total / self.seconds:.0f} req/s)")
        for (method, status), count in sorted(self.statuses.items()):
            lines.append(f"  {method} {status}: {count}")
        for method, values in self.latencies.items():
            if values:
                ordered = sorted(values)
                p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
                p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
                lines.append(
                    f"  {method} latency ms: p50 {statistics.median(ordered) * 1000:.0f}, "
                    f"p95 {p95 * 1000:.0f}, p99 {p99 * 1000:.0f}, max {ordered[-1] * 1000:.0f}"
                )
        lines.append(f"  transport errors: {len(self.transport_errors)}")
        ends = Counter(self.final.values())
        lines.append(
            f"{len(self.accepted)} tasks accepted; ended {dict(ends)} "
            f"{self.settle_seconds:.2f} s after the last request"
        )
        return "\n".join(lines)


def run_load(base_url: str, *, gets: int, posts: int, clients: int, seed: int = 0) -> LoadResult:
    """One POST first (so every GET has a task to read), then the rest shuffled over `clients`
    threads, each with its own connection."""
    result = LoadResult()
    lock = threading.Lock()
    jobs = ["POST"] * (posts - 1) + ["GET"] * gets
    random.Random(seed).shuffle(jobs)
    jobs.insert(0, "POST")
    order = iter(range(len(jobs)))

    def one(client: httpx.Client, number: int, rng: random.Random) -> None:
        method = jobs[number]
        started = time.monotonic()
        try:
            if method == "POST":
                response = client.post("/workflow", json=comfyui_body(tiny_graph(seed=number)))
            else:
                with lock:
                    task_id = rng.choice(result.accepted)
                response = client.get(f"/workflow/{task_id}")
        except httpx.HTTPError as error:
            with lock:
                result.transport_errors.append(f"{method}: {error!r}")
            return
        elapsed = time.monotonic() - started
        with lock:
            result.statuses[(method, response.status_code)] += 1
            result.latencies[method].append(elapsed)
            if method == "POST" and response.status_code == 202:
                result.accepted.append(str(response.json()["id"]))

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        with httpx.Client(base_url=base_url, auth=CREDENTIALS, timeout=60) as client:
            while True:
                with lock:
                    number = next(order, None)
                if number is None:
                    return
                one(client, number, rng)

    began = time.monotonic()
    with httpx.Client(base_url=base_url, auth=CREDENTIALS, timeout=60) as client:
        one(client, next(order), random.Random(seed))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    result.seconds = time.monotonic() - began
    return result


def wait_for_tasks(base_url: str, result: LoadResult, timeout: float = 120) -> None:
    """Polls every accepted task until it ends; `result.final` maps id -> last status seen."""
    began = time.monotonic()
    waiting = set(result.accepted)
    with httpx.Client(base_url=base_url, auth=CREDENTIALS, timeout=30) as client:
        while waiting and time.monotonic() - began < timeout:
            for task_id in sorted(waiting):
                response = client.get(f"/workflow/{task_id}")
                status = str(response.json()["status"]) if response.status_code == 200 else "gone"
                result.final[task_id] = status
                if status in (*FINISHED, "gone"):
                    waiting.discard(task_id)
            if waiting:
                time.sleep(0.2)
    result.settle_seconds = time.monotonic() - began


def tasks_per_node(nodes: list[Any]) -> list[int]:
    """How many prompts each fake node ran (from the fakes' own logs)."""
    return [len(node.log.prompts) for node in nodes]
