from __future__ import annotations

import signal
import time

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph


def wait_until_the_node_has_the_prompt(node: FakeComfyUIThread, timeout: float = 30) -> None:
    """A task is `running` a moment before its prompt reaches the node: a router killed in that
    moment never sent it."""
    deadline = time.monotonic() + timeout
    while not node.log.prompts:
        assert time.monotonic() < deadline, "the prompt never reached the node"
        time.sleep(0.05)


def test_a_task_running_when_the_router_stops_ends_done_after_a_restart(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    node.step_delay = 0.5  # still sampling when the router is back
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=30, steps=40)))
    cluster.wait_for(task_id, statuses=("running",))
    while not node.log.prompts or node.log.prompts[0].started is None:
        time.sleep(0.05)
    assert cluster.router.stop(signal.SIGTERM) == 0
    cluster.router.start()
    node.step_delay = 0.01
    task = cluster.wait_for(task_id)
    assert task["status"] == "done", task
    assert len(node.log.prompts) == 1  # resumed, not run again


def test_a_task_whose_prompt_finished_while_the_router_was_down_is_settled_from_history(
    cluster: Cluster,
) -> None:
    node = cluster.nodes[0]
    node.step_delay = 0.05
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=31, save="SaveImage")))
    cluster.wait_for(task_id, statuses=("running", "done"))
    wait_until_the_node_has_the_prompt(node)
    cluster.router.stop(signal.SIGKILL)
    while node.log.prompts[0].outcome is None:
        time.sleep(0.05)
    cluster.router.start()
    task = cluster.wait_for(task_id)
    assert task["status"] == "done", task
    assert task["outputs"][0]["filename"].startswith("router_test")
    assert len(node.log.prompts) == 1


def test_websocket_images_lost_while_the_router_was_down_are_made_again(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=33)))
    cluster.wait_for(task_id, statuses=("running", "done"))
    wait_until_the_node_has_the_prompt(node)
    cluster.router.stop(signal.SIGKILL)
    while node.log.prompts[0].outcome is None:
        time.sleep(0.05)
    cluster.router.start()
    task = cluster.wait_for(task_id)
    assert task["status"] == "done", task
    assert task["outputs"][0]["content_type"] == "image/png"


def test_pending_tasks_resume_after_a_restart(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 0.1
    task_ids = [cluster.submit(comfyui_body(sampler_graph(seed=32 + i, steps=5))) for i in range(3)]
    cluster.router.stop(signal.SIGTERM)
    cluster.router.start()
    assert [cluster.wait_for(t)["status"] for t in task_ids] == ["done"] * 3
