"""A task goes only to a node that has every node class and model file its graph names and every
label it asks for; nodes that cannot run it are passed over, even when idle."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph


def inverted(seed: int) -> dict[str, Any]:
    graph = tiny_graph(seed)
    graph["3"] = {"class_type": "ImageInvert", "inputs": {"image": ["1", 0]}}
    graph["2"]["inputs"]["images"] = ["3", 0]
    return graph


def ran_on(cluster: Cluster, task_ids: list[str]) -> set[str]:
    nodes = set()
    for task_id in task_ids:
        task = cluster.wait_for(task_id)
        assert task["status"] == "done", task
        nodes.add(task["node"])
    return nodes


def register(cluster: Cluster, fake: FakeComfyUIThread, **fields: Any) -> None:
    cluster.nodes.append(fake)
    with cluster.client() as client:
        response = client.post("/cluster/nodes", json={"url": fake.url, **fields})
        assert response.status_code in (200, 201), response.text
    cluster.wait_for_node(fake.url, "idle")


def test_a_graph_with_a_class_one_node_lacks_runs_on_the_other(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=0)
    lacking = cluster.add_node(missing_classes=frozenset({"ImageInvert"}))
    having = cluster.add_node()
    tasks = [cluster.submit(comfyui_body(inverted(seed))) for seed in range(6)]
    assert ran_on(cluster, tasks) == {having.url}
    assert lacking.log.prompts == []


def test_a_checkpoint_only_one_node_has_runs_there(cluster_factory, tmp_path: Path) -> None:
    cluster: Cluster = cluster_factory(nodes=0)
    bare = FakeComfyUIThread(tmp_path / "bare")  # a machine with no checkpoints of its own
    register(cluster, bare)
    having = cluster.add_node()  # shares the router's root, where tiny.safetensors is
    tasks = [cluster.submit(comfyui_body(sampler_graph(seed))) for seed in range(4)]
    assert ran_on(cluster, tasks) == {having.url}
    assert bare.log.prompts == []


def test_a_task_that_asks_for_labels_runs_only_on_a_node_with_all_of_them(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(nodes=0)
    plain = cluster.add_node()
    big = FakeComfyUIThread(cluster.router.root_dir)
    register(cluster, big, labels=["gpu-80gb", "video"])
    asked = [
        cluster.submit(comfyui_body(tiny_graph(seed), node_labels=["gpu-80gb"]))
        for seed in range(6)
    ]
    assert ran_on(cluster, asked) == {big.url}
    anywhere = [cluster.submit(comfyui_body(tiny_graph(100 + seed))) for seed in range(6)]
    assert ran_on(cluster, anywhere) <= {plain.url, big.url}
