"""End to end, fair share of the pool: client A posts a batch, then client B posts a few tasks;
B's run before most of A's that were still waiting, instead of after all of them."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.fake_comfyui import PromptRecord
from tests.support.clients import client_with_key, key_client
from tests.support.cluster import Cluster, comfyui_body, tiny_graph

A_TASKS, B_TASKS = 30, 3
B_SEEDS = range(1000, 1000 + B_TASKS)


def test_a_client_posting_after_another_ones_batch_runs_before_most_of_it(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(
        nodes=2, knobs={"node_delay": 0.15}, COMFY_ROUTER__PENDING_LIMIT="100",
        COMFY_ROUTER__HISTORY_LIMIT="100",
    )  # fmt: skip
    key_a = client_with_key(cluster.router, "team-a")
    key_b = client_with_key(cluster.router, "team-b")
    task_ids = []
    with key_client(cluster.router, key_a) as a:
        for seed in range(A_TASKS):
            response = a.post("/workflow", json=comfyui_body(tiny_graph(seed)))
            assert response.status_code == 202, response.text
            task_ids.append(response.json()["id"])
    b_posted = time.monotonic()  # the fake nodes log on this process's clock
    with key_client(cluster.router, key_b) as b:
        for seed in B_SEEDS:
            response = b.post("/workflow", json=comfyui_body(tiny_graph(seed)))
            assert response.status_code == 202, response.text
            task_ids.append(response.json()["id"])
    for task_id in task_ids:
        assert cluster.wait_for(task_id, timeout=60)["status"] == "done"

    prompts = [p for node in cluster.nodes for p in node.log.prompts if p.outcome == "success"]
    assert len(prompts) == A_TASKS + B_TASKS
    b_last_start = max(start(p) for p in prompts if seed_of(p) in B_SEEDS)
    a_waiting = [p for p in prompts if seed_of(p) not in B_SEEDS and start(p) > b_posted]
    assert len(a_waiting) >= 10, "A's batch ended before B came: the test proves nothing"
    a_after_b = [p for p in a_waiting if start(p) > b_last_start]
    # First in, first out would start all of A's first; a fair share gives B the next nodes
    # (B holds none, A holds them all), less the prompts already queued ahead on them.
    assert len(a_after_b) > len(a_waiting) / 2, (len(a_after_b), len(a_waiting))


def seed_of(prompt: PromptRecord) -> int:
    return int(prompt.graph["1"]["inputs"]["color"])


def start(prompt: PromptRecord) -> float:
    assert prompt.started is not None
    return prompt.started
