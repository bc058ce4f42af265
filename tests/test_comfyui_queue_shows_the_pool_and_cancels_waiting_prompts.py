"""`GET /queue` shows the pool's running and waiting prompts in ComfyUI's shape, each entry
`[number, prompt_id, prompt, extra_data, outputs_to_execute]` as a real ComfyUI 0.8.0 lists them
(trace `queue_delete`); `POST /queue {"delete": [...]}` and `{"clear": true}` cancel waiting
prompts and leave a running one be, as ComfyUI does.

Not ComfyUI: a prompt taken off the queue still ends for its client (`execution_interrupted`,
`status`, the end marker) and stays in `/history` as ended in error; ComfyUI drops it silently,
and a client waiting for its end marker would wait for ever.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cluster import Cluster, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import (
    ScriptClient,
    executing,
    follow,
    follow_all,
    frames_until,
)
from tests.support.comfyui_traces import json_shape, kinds, recorded_http, require_traces
from tests.support.queue_ahead import wait_until

STUCK = {"step_delay": 3600.0}  # a sampler step lasts until the prompt is interrupted
NO_QUEUE_AHEAD = {"COMFY_ROUTER__NODE__QUEUE_AHEAD": "0"}  # waiting prompts stay in the router


def sampling(prompt_id: str) -> Callable[[dict[str, Any]], bool]:
    return executing(prompt_id, "3")  # the KSampler of `sampler_graph`


def ids(entries: list[list[Any]]) -> list[str]:
    return [entry[1] for entry in entries]


def recorded_queue() -> dict[str, Any]:
    return dict(recorded_http("queue_delete", "GET", "/queue")["response"])


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    require_traces()
    return cluster_factory(nodes=1, knobs=STUCK, **NO_QUEUE_AHEAD)


def test_the_queue_lists_running_and_waiting_prompts_in_comfyuis_shape(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        running = client.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames_until(socket, sampling(running))
        graphs = [tiny_graph(seed=seed, save="SaveImage") for seed in (2, 3)]
        answers = [
            client.queue_prompt(graph, extra_data={"extra_pnginfo": {"n": n}})
            for n, graph in enumerate(graphs)
        ]
        waiting = [answer["prompt_id"] for answer in answers]

        queue = client.queue()
        assert set(queue) == set(recorded_queue())
        assert ids(queue["queue_running"]) == [running]
        assert ids(queue["queue_pending"]) == waiting
        [recorded_entry, *_] = recorded_queue()["queue_pending"]
        for entry, answer, graph, n in zip(queue["queue_pending"], answers, graphs, (0, 1)):
            assert json_shape(entry[:2] + entry[3:]) == json_shape(
                recorded_entry[:2] + [{**recorded_entry[3], "extra_pnginfo": {"n": 0}}]
                + recorded_entry[4:]
            )
            number, prompt_id, prompt, extra_data, outputs_to_execute = entry
            assert (number, prompt_id, prompt) == (answer["number"], answer["prompt_id"], graph)
            assert extra_data["client_id"] == client.client_id
            assert extra_data["extra_pnginfo"] == {"n": n}
            assert outputs_to_execute == ["2"]
        numbers = [entry[0] for entry in queue["queue_running"] + queue["queue_pending"]]
        assert numbers == sorted(numbers)
        assert client.request("GET", "/prompt") == {"exec_info": {"queue_remaining": 3}}

        client.request("POST", "/queue", {"clear": True})
        follow_all(socket, waiting)
        client.interrupt(running)
        follow(socket, running)
    assert client.queue() == {"queue_running": [], "queue_pending": []}


def test_deleting_from_the_queue_cancels_only_the_waiting_prompts_named(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        running = client.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames_until(socket, sampling(running))
        first, second, third = (
            client.queue_prompt(tiny_graph(seed=seed, save="SaveImage"))["prompt_id"]
            for seed in (2, 3, 4)
        )

        client.request("POST", "/queue", {"delete": [second]})
        frames = follow(socket, second)
        assert kinds(frames)[-3:] == ["execution_interrupted", "status", "executing"]
        assert ids(client.queue()["queue_pending"]) == [first, third]
        status = client.history(second)[second]["status"]
        assert (status["status_str"], status["completed"]) == ("error", False)

        client.request("POST", "/queue", {"delete": [running]})  # running: ComfyUI leaves it
        assert ids(client.queue()["queue_running"]) == [running]

        client.request("POST", "/queue", {"clear": True})
        follow_all(socket, [first, third])
        queue = client.queue()
        assert ids(queue["queue_running"]) == [running] and queue["queue_pending"] == []

        client.interrupt(running)
        follow(socket, running)
    [ran] = cluster.nodes[0].log.prompts
    assert ran.outcome == "interrupted"


def test_a_prompt_queued_ahead_on_a_busy_node_is_listed_and_deleted_as_pending(
    cluster_factory: Callable[..., Cluster],
) -> None:
    """The router may hand a busy node its next prompt early (NODE__QUEUE_AHEAD): it waits in
    the node's queue, not yet running, which ComfyUI lists as pending."""
    require_traces()
    cluster = cluster_factory(nodes=1, knobs=STUCK)
    [node] = cluster.nodes
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        running = client.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames_until(socket, sampling(running))
        ahead = client.queue_prompt(tiny_graph(seed=2))["prompt_id"]
        wait_until(lambda: len(node.log.prompts) == 2, "the node has the prompt queued ahead")
        waiting = client.queue_prompt(tiny_graph(seed=3))["prompt_id"]

        queue = client.queue()
        assert ids(queue["queue_running"]) == [running]
        assert ids(queue["queue_pending"]) == [ahead, waiting]

        client.request("POST", "/queue", {"delete": [ahead]})
        frames = follow(socket, ahead)
        assert kinds(frames)[-3:] == ["execution_interrupted", "status", "executing"]
        assert ids(client.queue()["queue_pending"]) == [waiting]
        client.request("POST", "/queue", {"clear": True})
        follow(socket, waiting)
        assert ids(client.queue()["queue_running"]) == [running]
        client.interrupt(running)
        follow(socket, running)
    assert [prompt.outcome for prompt in node.log.prompts][:2] == ["interrupted", "deleted"]
