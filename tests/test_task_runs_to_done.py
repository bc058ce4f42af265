from __future__ import annotations

import base64

from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_a_websocket_saving_graph_ends_done_with_its_png(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=1)))
    task = cluster.wait_for(task_id)
    assert task["status"] == "done", task
    assert task["progress"] == 1.0
    assert task["node"] == cluster.nodes[0].url
    assert task["attempts"] == 1
    assert task["preview"] is None
    [output] = task["outputs"]
    assert output["index"] == 0
    assert output["content_type"] == "image/png"
    assert output["url"].endswith(f"/workflow/{task_id}/outputs/0")
    with cluster.client() as client:
        response = client.get(f"/workflow/{task_id}/outputs/0")
    assert response.status_code == 200
    assert response.content.startswith(PNG_SIGNATURE)
    assert len(response.content) == output["size"]


def test_a_disk_saving_graph_gets_its_outputs_through_history_and_view(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=2, save="SaveImage")))
    task = cluster.wait_for(task_id)
    assert task["status"] == "done", task
    [output] = task["outputs"]
    assert output["filename"].startswith("router_test")
    data = cluster.task(task_id, include="data")["outputs"][0]["data"]
    assert base64.b64decode(data).startswith(PNG_SIGNATURE)
    assert any(r.path == "/view" for r in cluster.nodes[0].log.requests)


def test_a_sampler_graph_reports_the_seed_node_and_progress_over_the_whole_graph(
    cluster: Cluster,
) -> None:
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=3, steps=3)))
    task = cluster.wait_for(task_id)
    assert task["status"] == "done", task
    assert len(task["outputs"]) == 1
    [prompt] = cluster.nodes[0].log.prompts
    assert prompt.graph == sampler_graph(seed=3, steps=3)
    assert prompt.extra_data.get("preview_method") == "auto"


def test_the_node_is_idle_again_after_the_task(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=4)))
    cluster.wait_for(task_id)
    cluster.wait_for_node(cluster.nodes[0].url, "idle")
