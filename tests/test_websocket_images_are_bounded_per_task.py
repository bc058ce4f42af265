"""Images a node sends over its websocket (SaveImageWebsocket) are written to disk as they come,
and a task's outputs are bounded: at most 1000 files and TASK__MAX_OUTPUT_BYTES (4 GiB by
default) in all. Past either, the task ends with an error naming the bound, its prompt is taken
off the node, and nothing it stored stays."""

from __future__ import annotations

from typing import Any

from tests.support.cluster import Cluster, comfyui_body


def images(save_nodes: int, batch: int = 16, side: int = 8) -> dict[str, Any]:
    """`save_nodes` × `batch` images over the websocket (the fake sends at most 16 a node)."""
    graph: dict[str, Any] = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": side, "height": side, "batch_size": batch, "color": 7},
        },
    }
    for index in range(save_nodes):
        graph[str(index + 2)] = {"class_type": "SaveImageWebsocket", "inputs": {"images": ["1", 0]}}
    return graph


def stored_files(cluster: Cluster, task_id: str) -> list[str]:
    folder = cluster.router.data_dir / "outputs" / task_id
    return sorted(path.name for path in folder.iterdir()) if folder.exists() else []


def test_images_within_the_bounds_are_all_kept(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1)
    task = cluster.wait_for(cluster.submit(comfyui_body(images(2, batch=10))))
    assert task["status"] == "done", task["error"]
    assert len(task["outputs"]) == 20
    assert len(stored_files(cluster, task["id"])) == 20


def test_more_than_1000_images_end_the_task_with_an_error(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1)
    task = cluster.wait_for(cluster.submit(comfyui_body(images(63))), timeout=60)  # 1008
    assert task["status"] == "error"
    assert "more than 1000 outputs" in task["error"]["message"]
    assert stored_files(cluster, task["id"]) == []


def test_images_past_the_byte_bound_end_the_task_with_an_error(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, COMFY_ROUTER__TASK__MAX_OUTPUT_BYTES="20KiB")
    task = cluster.wait_for(cluster.submit(comfyui_body(images(4, side=256))), timeout=60)
    assert task["status"] == "error"
    assert "outputs over 20.0 KiB" in task["error"]["message"]
    assert stored_files(cluster, task["id"]) == []
    [node] = cluster.nodes
    assert [p.outcome for p in node.log.prompts] in (["success"], ["interrupted"])
