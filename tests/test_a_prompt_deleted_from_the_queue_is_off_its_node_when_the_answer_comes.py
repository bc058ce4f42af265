"""A prompt deleted from `/queue` while it waits in its node's queue (queued ahead) is off the
node's queue by the time the answer comes, as on one ComfyUI: the router's run takes it off at
once rather than at its next look for requests, so it cannot start meanwhile. So is a task
cancelled with `DELETE /workflow/{id}`. `/queue` no longer lists it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from websockets.sync.client import ClientConnection

from tests.fake_comfyui import FakeComfyUIThread, PromptRecord
from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import (
    ScriptClient,
    executing,
    follow,
    follow_all,
    frames_until,
)
from tests.support.queue_ahead import wait_until

STUCK = {"step_delay": 3600.0}  # a sampler step lasts until the prompt is interrupted
QUEUED_COLOR = 7


def queued_on(node: FakeComfyUIThread) -> list[PromptRecord]:
    """The node's prompts of `tiny_graph(QUEUED_COLOR)` (the other is a sampler graph)."""
    return [
        prompt
        for prompt in node.log.prompts
        if prompt.graph.get("1", {}).get("inputs", {}).get("color") == QUEUED_COLOR
    ]


def sampling(client: ScriptClient, socket: ClientConnection, seed: int) -> str:
    """A prompt that samples for as long as it is let (until interrupted)."""
    running = client.queue_prompt(sampler_graph(seed=seed))["prompt_id"]
    frames_until(socket, executing(running, "3"))
    return running


def queued_behind(node: FakeComfyUIThread, submit: Callable[[], str]) -> str:
    """The id `submit` gives, once its prompt waits in the node's queue (queued ahead)."""
    queued = submit()
    wait_until(lambda: queued_on(node), "the second prompt is queued on the node")
    return queued


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    return cluster_factory(nodes=1, knobs=STUCK)


def test_a_prompt_deleted_from_the_queue_is_off_its_node_and_never_starts(
    cluster: Cluster,
) -> None:
    [node] = cluster.nodes
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        running = sampling(client, socket, seed=1)
        graph = tiny_graph(seed=QUEUED_COLOR)
        queued = queued_behind(node, lambda: client.queue_prompt(graph)["prompt_id"])

        client.request("POST", "/queue", {"delete": [queued]})

        [deleted] = queued_on(node)
        assert deleted.outcome == "deleted"
        queue = client.queue()
        assert [entry[1] for entry in queue["queue_pending"]] == []
        assert [entry[1] for entry in queue["queue_running"]] == [running]
        client.interrupt(running)
        frames = follow_all(socket, [running, queued])
    assert deleted.started is None
    assert not [
        frame
        for frame in frames
        if isinstance(frame, dict)
        and frame["type"] == "execution_start"
        and frame["data"]["prompt_id"] == queued
    ]
    assert client.history(queued)[queued]["status"]["status_str"] == "error"


def test_a_task_cancelled_while_queued_on_its_node_is_off_it_when_the_answer_comes(
    cluster: Cluster,
) -> None:
    [node] = cluster.nodes
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        running = sampling(client, socket, seed=2)
        queued = queued_behind(node, lambda: cluster.submit(comfyui_body(tiny_graph(QUEUED_COLOR))))

        with cluster.client() as api:
            assert api.delete(f"/workflow/{queued}").status_code == 200

        [deleted] = queued_on(node)
        assert deleted.outcome == "deleted"
        client.interrupt(running)
        follow(socket, running)
    assert cluster.wait_for(queued)["status"] == "cancelled"
    assert deleted.started is None
