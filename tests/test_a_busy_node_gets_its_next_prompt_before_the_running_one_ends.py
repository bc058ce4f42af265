"""With NODE__QUEUE_AHEAD (default 1), a node running a prompt while tasks wait gets the next one
posted into its own ComfyUI queue at once: ComfyUI starts it the moment the one before ends, and
the node shows the two prompts it holds. With 0, one prompt at a time, as before."""

from __future__ import annotations

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.queue_ahead import metric, prompts_of, wait_until


def held(cluster: Cluster) -> int:
    with cluster.client() as client:
        return int(client.get("/cluster/nodes").json()["nodes"][0]["held"])


def test_the_next_prompt_waits_in_the_nodes_queue_while_the_first_runs(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, knobs={"node_delay": 0.4})
    [fake] = cluster.nodes
    first = cluster.submit(comfyui_body(tiny_graph(1)))
    wait_until(lambda: any(p.started for p in prompts_of(fake, 1)), "the first prompt runs")
    second = cluster.submit(comfyui_body(tiny_graph(2)))
    third = cluster.submit(comfyui_body(tiny_graph(3)))

    wait_until(lambda: prompts_of(fake, 2), "the second prompt is posted")
    [running] = prompts_of(fake, 1)
    [queued] = prompts_of(fake, 2)
    assert running.ended is None and queued.started is None  # posted while the first ran
    assert held(cluster) == 2
    assert not prompts_of(fake, 3)  # one ahead, not more: the third waits in the router

    assert [cluster.wait_for(t)["status"] for t in (first, second, third)] == ["done"] * 3
    [queued] = prompts_of(fake, 2)
    assert queued.started - running.ended < 0.1  # ComfyUI went straight on to it
    assert fake.log.max_active == 2
    assert held(cluster) == 0
    assert metric(cluster, "comfy_router_prompts_queued_ahead_total") >= 1
    assert metric(cluster, "comfy_router_node_idle_seconds_count") >= 1


def test_without_queue_ahead_the_next_prompt_is_posted_only_after_the_first_ends(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(
        nodes=1, knobs={"node_delay": 0.2}, COMFY_ROUTER__NODE__QUEUE_AHEAD="0"
    )
    [fake] = cluster.nodes
    tasks = [cluster.submit(comfyui_body(tiny_graph(color))) for color in (1, 2, 3)]
    assert [cluster.wait_for(t)["status"] for t in tasks] == ["done"] * 3
    assert fake.log.max_active == 1
    assert metric(cluster, "comfy_router_prompts_queued_ahead_total") == 0
