"""A node lost while it holds a running prompt and one queued ahead: each task is settled on its
own. A node that restarts (its queue and history gone) is sent both again; one that stays gone
leaves the running task failed, as before, and the queued one, never started there, goes to
another node."""

from __future__ import annotations

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.queue_ahead import prompts_of, wait_until


def running_and_queued(cluster: Cluster) -> tuple[str, str]:
    [node] = cluster.nodes
    running = cluster.submit(comfyui_body(tiny_graph(1)))
    wait_until(lambda: any(p.started for p in prompts_of(node, 1)), "the first prompt runs")
    queued = cluster.submit(comfyui_body(tiny_graph(2)))
    wait_until(lambda: prompts_of(node, 2), "the second is queued ahead")
    return running, queued


def test_a_node_that_restarts_runs_both_again(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, knobs={"node_delay": 0.5})
    [node] = cluster.nodes
    running, queued = running_and_queued(cluster)

    node.restart()

    assert cluster.wait_for(running)["status"] == "done"
    assert cluster.wait_for(queued)["status"] == "done"
    assert [p.outcome for p in prompts_of(node, 1)] == ["lost", "success"]
    assert [p.outcome for p in prompts_of(node, 2)] == ["lost", "success"]
    assert node.log.max_active <= 2


def test_a_node_that_stays_gone_fails_the_running_task_and_moves_the_queued_one(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(nodes=1, knobs={"node_delay": 1.0})
    [lost] = cluster.nodes
    running, queued = running_and_queued(cluster)

    lost.die()
    other = cluster.add_node(node_delay=0.01)

    moved = cluster.wait_for(queued, timeout=60)
    assert (moved["status"], moved["node"]) == ("done", other.url)
    failed = cluster.wait_for(running, timeout=60)
    assert failed["status"] == "error" and "Lost node" in failed["error"]["message"]
    assert [p.outcome for p in prompts_of(other, 2)] == ["success"]
    assert not prompts_of(other, 1)  # a prompt that may have run is not run again elsewhere
