"""Helpers for queue-ahead tests: which prompt of a node is which task's, and the router's
counters."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.fake_comfyui import FakeComfyUIThread, PromptRecord
from tests.support.cluster import Cluster


def prompts_of(fake: FakeComfyUIThread, color: int) -> list[PromptRecord]:
    """The prompts of `tiny_graph(color)` the node accepted, oldest first."""
    return [p for p in fake.log.prompts if p.graph["1"]["inputs"]["color"] == color]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting until {what}")


def metric(cluster: Cluster, name: str) -> float:
    """One sample of /metrics, by its full name (`comfy_router_steals_total`)."""
    with cluster.client() as client:
        text = client.get("/metrics").text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")
