"""Fetching a task's outputs is part of its run: the lease is renewed meanwhile (a slow /view is
fetched once, never again by a run that took the task over), TASK__TIMEOUT ends a fetch that
outlives it, and a cancel ends it at once. A fetch cut short leaves no file behind, and the
node is let go."""

from __future__ import annotations

import time

from tests.support.cluster import Cluster, comfyui_body, tiny_graph


def saved(seed: int) -> dict:
    return comfyui_body(tiny_graph(seed, save="SaveImage"))


def views(cluster: Cluster) -> int:
    [node] = cluster.nodes
    return sum(1 for path in node.log.paths("GET") if path.endswith("/view"))


def node_status(cluster: Cluster) -> str:
    with cluster.client() as client:
        return str(client.get("/cluster/nodes").json()["nodes"][0]["status"])


def wait_for_idle(cluster: Cluster) -> None:
    deadline = time.monotonic() + 10
    while node_status(cluster) != "idle":
        assert time.monotonic() < deadline, "the node was not let go"
        time.sleep(0.05)


def test_a_fetch_longer_than_the_lease_is_done_once(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=1, knobs={"view_rate": 60.0}, COMFY_ROUTER__TASK__LEASE="1"
    )
    task = cluster.wait_for(cluster.submit(saved(1)), timeout=60)
    assert task["status"] == "done", task["error"]
    assert len(task["outputs"]) == 1
    assert views(cluster) == 1


def test_a_fetch_past_the_task_timeout_ends_it_with_an_error_and_leaves_nothing(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(
        nodes=1, knobs={"view_rate": 5.0}, COMFY_ROUTER__TASK__TIMEOUT="2"
    )
    started = time.monotonic()
    task = cluster.wait_for(cluster.submit(saved(2)), timeout=30)
    assert task["status"] == "error" and "Timed out" in task["error"]["message"]
    assert time.monotonic() - started < 10
    assert task["outputs"] == []
    outputs = cluster.router.data_dir / "outputs" / task["id"]
    assert not outputs.exists() or not any(outputs.iterdir())
    wait_for_idle(cluster)


def test_cancelling_while_the_outputs_are_fetched_ends_the_task_at_once(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, knobs={"view_rate": 5.0})
    task_id = cluster.submit(saved(3))
    deadline = time.monotonic() + 15
    while views(cluster) == 0:
        assert time.monotonic() < deadline, "the outputs were never asked for"
        time.sleep(0.02)
    with cluster.client() as client:
        assert client.delete(f"/workflow/{task_id}").status_code == 200
    asked = time.monotonic()
    task = cluster.wait_for(task_id, timeout=15)
    assert task["status"] == "cancelled"
    assert time.monotonic() - asked < 3
    wait_for_idle(cluster)
    assert not list((cluster.router.data_dir / "outputs").rglob("*.part"))
