"""A prompt whose images went over a websocket that died with its router process (a killed
`serve`, or a killed worker scaled out) is run again to make them, ComfyUI having cached all but
its last node. That costs the task no attempt: neither the node nor the task failed."""

from __future__ import annotations

import signal
import time

from tests.support.cluster import Cluster, comfyui_body, tiny_graph


def test_a_task_with_one_attempt_is_made_again_and_ends_done(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, COMFY_ROUTER__TASK__MAX_ATTEMPTS="1")
    [node] = cluster.nodes
    node.node_delay = 0.3
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=34)))
    deadline = time.monotonic() + 15
    while not node.log.prompts:
        assert time.monotonic() < deadline, "the prompt never reached the node"
        time.sleep(0.02)
    cluster.router.stop(signal.SIGKILL)
    while node.log.prompts[0].outcome is None:
        time.sleep(0.05)
    cluster.router.start()

    task = cluster.wait_for(task_id)
    assert (task["status"], task["attempts"]) == ("done", 1), task
    assert task["outputs"][0]["content_type"] == "image/png"
    assert [p.outcome for p in node.log.prompts] == ["success", "success"]
