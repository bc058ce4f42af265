"""Each way a run can fail ends the task in a definite state, and the node is released."""

from __future__ import annotations

import time

from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph


def test_a_rejected_prompt_is_an_error_naming_the_node_and_input(cluster: Cluster) -> None:
    # The node said it had the checkpoint; it is gone since, so only the node can refuse it.
    # (Said first: had the node been asked after the removal, no node would have it, and the
    # task would rightly wait for one. Idle first too: the health check that brings a new node
    # online asks it again, and that answer may come after the removal.)
    cluster.wait_for_node(cluster.nodes[0].url, "idle")
    wait_until_reported(cluster)
    (cluster.router.root_dir / "models" / "checkpoints" / "tiny.safetensors").unlink()
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=5)))
    task = cluster.wait_for(task_id)
    assert task["status"] == "error", task
    assert task["error"]["node_id"] == "4"
    assert task["error"]["node_type"] == "CheckpointLoaderSimple"
    assert "ckpt_name" in task["error"]["message"]
    cluster.wait_for_node(cluster.nodes[0].url, "idle")


def test_an_execution_error_carries_comfyuis_exception(cluster: Cluster) -> None:
    cluster.nodes[0].fail_at_node = "KSampler"
    cluster.nodes[0].fail_message = "CUDA out of memory"
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=6)))
    task = cluster.wait_for(task_id)
    assert task["status"] == "error", task
    assert task["error"]["node_id"] == "3"
    assert task["error"]["node_type"] == "KSampler"
    assert "CUDA out of memory" in task["error"]["message"]
    assert task["error"]["exception_type"]
    cluster.wait_for_node(cluster.nodes[0].url, "idle")


def test_a_lost_websocket_is_reconciled_and_the_task_still_ends_done(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    node.step_delay = 0.05
    node.drop_websocket_after = 6
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=7, steps=20)))
    task = cluster.wait_for(task_id)
    assert task["status"] == "done", task
    assert len(task["outputs"]) == 1
    assert len(node.log.websockets) >= 2  # it reconnected
    assert len(node.log.prompts) == 1  # and did not run the prompt twice


def test_a_node_dead_before_the_prompt_is_retried_on_another_node(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(nodes=2, COMFY_ROUTER__HEALTH__INTERVAL="30")
    first, second = cluster.nodes
    first.stop()  # dead, but the health monitor has not noticed yet
    task_ids = [cluster.submit(comfyui_body(tiny_graph(seed=8 + i))) for i in range(2)]
    tasks = [cluster.wait_for(task_id) for task_id in task_ids]
    assert [t["status"] for t in tasks] == ["done", "done"], tasks
    assert all(t["node"] == second.url for t in tasks)
    assert max(t["attempts"] for t in tasks) == 2
    assert cluster.node_status(first.url) == "offline"


def test_a_task_whose_every_attempt_fails_ends_in_error(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=2, COMFY_ROUTER__HEALTH__INTERVAL="30", COMFY_ROUTER__TASK__MAX_ATTEMPTS="2"
    )
    for node in cluster.nodes:
        node.stop()
    task = cluster.wait_for(cluster.submit(comfyui_body(tiny_graph(seed=9))))
    assert task["status"] == "error", task
    assert task["attempts"] == 2
    assert "unreachable" in task["error"]["message"]


def test_a_task_past_its_deadline_is_interrupted_and_fails(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, COMFY_ROUTER__TASK__TIMEOUT="1")
    node = cluster.nodes[0]
    node.step_delay = 0.2
    task = cluster.wait_for(cluster.submit(comfyui_body(sampler_graph(seed=10, steps=50))))
    assert task["status"] == "error", task
    assert "Timed out" in task["error"]["message"]
    assert any(r.path == "/interrupt" for r in node.log.requests)
    assert node.log.prompts[0].outcome == "interrupted"
    cluster.wait_for_node(node.url, "idle")


def wait_until_reported(cluster: Cluster, timeout: float = 15) -> None:
    """Until the router has stored what the cluster's node can run."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with cluster.client() as client:
            [node] = client.get("/cluster/nodes").json()["nodes"]
        if node["capabilities_at"]:
            return
        time.sleep(0.05)
    raise AssertionError("the node never said what it can run")
