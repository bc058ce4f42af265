"""Cancelling a task queued ahead deletes its prompt from the node's queue; it never interrupts
the prompt running before it, which is another client's task."""

from __future__ import annotations

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.queue_ahead import prompts_of, wait_until


def test_the_queued_prompt_is_deleted_and_the_running_one_ends_done(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, knobs={"node_delay": 1.0})
    [node] = cluster.nodes
    running = cluster.submit(comfyui_body(tiny_graph(1)))
    wait_until(lambda: any(p.started for p in prompts_of(node, 1)), "the first prompt runs")
    queued = cluster.submit(comfyui_body(tiny_graph(2)))
    wait_until(lambda: prompts_of(node, 2), "the second is queued ahead")

    with cluster.client() as client:
        assert client.delete(f"/workflow/{queued}").status_code == 200

    cancelled = cluster.wait_for(queued)
    assert cancelled["status"] == "cancelled"
    assert cluster.task(running)["status"] == "running"  # cancelled before the first ended
    [deleted] = prompts_of(node, 2)
    assert (deleted.outcome, deleted.started) == ("deleted", None)
    assert cluster.wait_for(running)["status"] == "done"
    assert [p.outcome for p in prompts_of(node, 1)] == ["success"]
