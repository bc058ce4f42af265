"""`POST /interrupt {"prompt_id": ...}` stops that prompt on whichever node runs it, and only
that one: its client hears `execution_interrupted` (the node's), `status` and the end marker,
as after a real ComfyUI 0.8.0's targeted interrupt (trace `interrupt_targeted`), and `/history`
shows it ended in error. A prompt still waiting for a node ends the same way.

Decided, not ComfyUI: `/interrupt` without a prompt_id (ComfyUI's "stop whatever runs") is a 400
in ComfyUI's error shape, since the pool runs many prompts at once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cluster import Cluster, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, executing, follow, frames_until
from tests.support.comfyui_traces import (
    assert_shaped_like_comfyui,
    kinds,
    recorded_history_entry,
    recorded_kinds,
    require_traces,
)
from tests.support.queue_ahead import wait_until

TRACE = "interrupt_targeted"
# A sampler step lasts this long unless interrupted: a prompt runs until the test stops it.
STUCK = {"step_delay": 3600.0}
ONE_PROMPT_A_NODE = {
    "COMFY_ROUTER__NODE__QUEUE_AHEAD": "0",
    "COMFY_ROUTER__SCHEDULER__AFFINITY_WAIT": "0",
}


def sampling(prompt_id: str) -> Callable[[dict[str, Any]], bool]:
    return executing(prompt_id, "3")  # the KSampler of `sampler_graph`


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    require_traces()
    return cluster_factory(nodes=2, knobs=STUCK, **ONE_PROMPT_A_NODE)


def test_an_interrupt_stops_only_the_named_prompt_on_its_node(cluster: Cluster) -> None:
    first, second = (ScriptClient(cluster.router.url) for _ in range(2))
    with first.websocket() as first_socket, second.websocket() as second_socket:
        kept = first.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames_until(first_socket, sampling(kept))
        stopped = second.queue_prompt(sampler_graph(seed=2))["prompt_id"]
        before = frames_until(second_socket, sampling(stopped))
        assert sorted(len(node.log.prompts) for node in cluster.nodes) == [1, 1]

        second.interrupt(stopped)
        frames = before + follow(second_socket, stopped)
        assert [entry[1] for entry in first.queue()["queue_running"]] == [kept]

        first.interrupt(kept)
        first_frames = follow(first_socket, kept)
    assert all(
        message["data"].get("prompt_id") in (None, kept)
        for message in first_frames
        if not isinstance(message, bytes)
    )

    without_status = [kind for kind in kinds(frames) if kind not in ("status", "progress_state")]
    recorded = [kind for kind in recorded_kinds(TRACE) if kind not in ("status", "progress_state")]
    assert without_status[:2] == recorded[:2] == ["execution_start", "execution_cached"]
    ending = ["execution_interrupted", "status", "executing"]
    assert kinds(frames)[-3:] == recorded_kinds(TRACE)[-3:] == ending
    interrupted = frames[-3]
    assert_shaped_like_comfyui(interrupted)
    assert interrupted["data"]["prompt_id"] == stopped
    assert (interrupted["data"]["node_id"], interrupted["data"]["node_type"]) == ("3", "KSampler")
    assert frames[-1]["data"] == {"node": None, "prompt_id": stopped}

    entry = second.history(stopped)[stopped]
    recorded_entry = recorded_history_entry(TRACE)
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    assert [kind for kind, _ in entry["status"]["messages"]] == [
        kind for kind, _ in recorded_entry["status"]["messages"]
    ]
    assert entry["status"]["messages"][-1][1] == interrupted["data"]
    assert [node.log.prompts[0].outcome for node in cluster.nodes] == ["interrupted"] * 2


def test_an_interrupt_stops_a_prompt_still_waiting_for_a_node(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        running = []
        for seed in (1, 2):
            running.append(client.queue_prompt(sampler_graph(seed=seed))["prompt_id"])
            frames_until(socket, sampling(running[-1]))
        waiting = client.queue_prompt(tiny_graph(seed=3))["prompt_id"]
        assert [entry[1] for entry in client.queue()["queue_pending"]] == [waiting]
        client.interrupt(waiting)
        frames = follow(socket, waiting)
        interrupted = frames[-3]
        assert kinds(frames)[-3:] == ["execution_interrupted", "status", "executing"]
        assert_shaped_like_comfyui(interrupted, may_be_null=("node_id", "node_type"))
        assert interrupted["data"]["prompt_id"] == waiting
        for prompt_id in running:
            client.interrupt(prompt_id)
            follow(socket, prompt_id)
    assert client.queue() == {"queue_running": [], "queue_pending": []}
    assert all(len(node.log.prompts) == 1 for node in cluster.nodes)


@pytest.mark.parametrize("body", [{}, {"prompt_id": None}, None])
def test_an_interrupt_without_a_prompt_id_is_refused(cluster: Cluster, body: Any) -> None:
    client = ScriptClient(cluster.router.url)
    status, answer = client.error("POST", "/interrupt", body)
    assert status == 400
    assert set(answer) == {"error", "node_errors"} and answer["node_errors"] == {}
    assert set(answer["error"]) == {"type", "message", "details", "extra_info"}
    assert "prompt_id" in answer["error"]["message"]


def test_an_interrupt_takes_a_prompt_queued_ahead_off_its_nodes_queue(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1, knobs=STUCK)  # a busy node takes one prompt ahead
    [node] = cluster.nodes
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        running = client.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames_until(socket, sampling(running))
        ahead = client.queue_prompt(tiny_graph(seed=2))["prompt_id"]
        wait_until(lambda: len(node.log.prompts) == 2, "the node has the prompt queued ahead")
        client.interrupt(ahead)
        frames = follow(socket, ahead)
        assert kinds(frames)[-3:] == ["execution_interrupted", "status", "executing"]
        assert_shaped_like_comfyui(frames[-3], may_be_null=("node_id", "node_type"))
        assert [entry[1] for entry in client.queue()["queue_running"]] == [running]
        client.interrupt(running)
        follow(socket, running)
    assert [prompt.outcome for prompt in node.log.prompts] == ["interrupted", "deleted"]
