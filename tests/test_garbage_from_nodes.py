"""A node that answers with garbage ends that task in a definite state, and the router goes on
serving everyone else."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support.cluster import FINISHED, Cluster, comfyui_body, tiny_graph
from tests.support.garbage_comfyui import GarbageNode


@pytest.fixture
def garbage_cluster(
    cluster_factory: Callable[..., Cluster],
) -> Iterator[Callable[..., tuple[Cluster, GarbageNode]]]:
    nodes: list[GarbageNode] = []

    def start(**garbage: Any) -> tuple[Cluster, GarbageNode]:
        cluster = cluster_factory(nodes=0, COMFY_ROUTER__TASK__TIMEOUT="60")
        node = GarbageNode(cluster.router.root_dir, **garbage)
        nodes.append(node)
        with cluster.client() as client:
            assert client.post("/cluster/nodes", json={"url": node.url}).status_code == 201
        cluster.wait_for_node(node.url, "idle")
        return cluster, node

    yield start
    for node in nodes:
        node.close()


def assert_router_still_serves(cluster: Cluster, garbage: GarbageNode) -> None:
    with cluster.client() as client:
        assert client.get("/health_check").status_code == 200
        removed = client.post("/cluster/nodes/delete", params={"force": "true"}, json={"url": garbage.url})
        assert removed.status_code == 200, removed.text
    cluster.add_node()
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=99)))
    assert cluster.wait_for(task_id)["status"] == "done"
    log = cluster.router.log()
    assert "database is locked" not in log
    assert "failed inside the router" not in log, log


@pytest.mark.parametrize(
    "answer",
    [b"<html>502 Bad Gateway</html>", b'["not", "an", "object"]', b'{"prompt_id": null', b"\xff\xfe\x00"],
    ids=["html", "json-list", "truncated-json", "binary"],
)
def test_a_prompt_answer_that_is_not_comfyuis_ends_the_task_with_an_error(
    garbage_cluster: Callable[..., tuple[Cluster, GarbageNode]], answer: bytes
) -> None:
    cluster, node = garbage_cluster(prompt_answer=answer)
    task = cluster.wait_for(cluster.submit(comfyui_body(tiny_graph(seed=1))), timeout=60)
    assert task["status"] == "error"
    assert task["error"]["message"]
    assert_router_still_serves(cluster, node)


def test_junk_frames_on_the_websocket_are_ignored_and_the_task_still_finishes(
    garbage_cluster: Callable[..., tuple[Cluster, GarbageNode]],
) -> None:
    cluster, node = garbage_cluster(junk_frames=True)
    task = cluster.wait_for(cluster.submit(comfyui_body(tiny_graph(seed=2, save="SaveImage"))))
    assert task["status"] == "done", (task["error"], cluster.router.log()[-3000:])
    assert len(task["outputs"]) == 1
    assert_router_still_serves(cluster, node)


def test_an_executed_message_of_the_wrong_shape_ends_the_task(
    garbage_cluster: Callable[..., tuple[Cluster, GarbageNode]],
) -> None:
    cluster, node = garbage_cluster(mangle_executed=True)
    task = cluster.wait_for(cluster.submit(comfyui_body(tiny_graph(seed=3, save="SaveImage"))))
    assert task["status"] in FINISHED
    assert_router_still_serves(cluster, node)


@pytest.mark.parametrize("history", [["garbage"], "text", {"prompt": [1, 2]}])
def test_a_history_of_the_wrong_shape_after_a_lost_websocket_still_ends_the_task(
    garbage_cluster: Callable[..., tuple[Cluster, GarbageNode]], history: Any
) -> None:
    cluster, node = garbage_cluster(history_answer=history)
    node.server.drop_websocket_after = 2
    task = cluster.wait_for(cluster.submit(comfyui_body(tiny_graph(seed=4))), timeout=90)
    assert task["status"] in FINISHED
    assert_router_still_serves(cluster, node)
