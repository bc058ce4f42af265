"""No task waits behind another's long job while a node that can run it is idle: a task queued
ahead that has not started is taken back from the busy node's queue (deleted there, confirmed
gone and never run) and given to the idle node, without using one of its attempts. One whose
prompt started meanwhile stays where it is. A prompt never runs twice."""

from __future__ import annotations

import sqlite3

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.queue_ahead import metric, prompts_of, wait_until


def test_a_queued_task_goes_to_a_node_that_comes_online(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, knobs={"node_delay": 2.0})
    [slow] = cluster.nodes
    long_job = cluster.submit(comfyui_body(tiny_graph(1)))
    wait_until(lambda: any(p.started for p in prompts_of(slow, 1)), "the long job runs")
    queued = cluster.submit(comfyui_body(tiny_graph(2)))
    wait_until(lambda: prompts_of(slow, 2), "the second task is queued ahead on the busy node")

    fast = cluster.add_node(node_delay=0.01)

    moved = cluster.wait_for(queued)
    assert (moved["status"], moved["node"], moved["attempts"]) == ("done", fast.url, 1)
    [taken_back] = prompts_of(slow, 2)
    assert (taken_back.outcome, taken_back.started) == ("deleted", None)
    assert [p.outcome for p in prompts_of(fast, 2)] == ["success"]
    assert cluster.task(long_job)["status"] == "running"  # it moved before the job ended
    assert cluster.wait_for(long_job)["status"] == "done"
    assert [p.outcome for p in prompts_of(slow, 1)] == ["success"]  # never interrupted
    assert metric(cluster, "comfy_router_steals_total") == 1


def test_a_task_whose_prompt_started_before_it_could_be_taken_back_stays(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(nodes=1, knobs={"node_delay": 0.8})
    [node] = cluster.nodes
    first = cluster.submit(comfyui_body(tiny_graph(1)))
    second = cluster.submit(comfyui_body(tiny_graph(2)))
    wait_until(lambda: any(p.started for p in prompts_of(node, 2)), "the second prompt starts")
    # As a dispatcher that saw it queued a moment before would: ask its run to give it back.
    with sqlite3.connect(cluster.router.data_dir / "router.sqlite3", timeout=30) as db:
        db.execute("UPDATE workflows_task SET steal_requested = 1 WHERE id = ?", (second.replace("-", ""),))

    ended = cluster.wait_for(second)
    assert (ended["status"], ended["node"], ended["attempts"]) == ("done", node.url, 1)
    assert [p.outcome for p in prompts_of(node, 2)] == ["success"]  # one prompt, run once
    assert cluster.wait_for(first)["status"] == "done"
    assert metric(cluster, "comfy_router_steals_total") == 0
    with sqlite3.connect(cluster.router.data_dir / "router.sqlite3", timeout=30) as db:
        [(asked,)] = db.execute(
            "SELECT steal_requested FROM workflows_task WHERE id = ?", (second.replace("-", ""),)
        ).fetchall()
    assert not asked
