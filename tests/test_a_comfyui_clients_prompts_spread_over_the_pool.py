"""One ComfyUI client's prompts, queued at once, spread over the pool's nodes and each reaches
its client whole: every prompt's own messages come in the order a lone prompt's come, whichever
node ran it and however the nodes' messages interleave, each ends with its end marker, and the
`number`s order them as they were queued."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow, follow_all
from tests.support.comfyui_traces import assert_shaped_like_comfyui

PROMPTS = 6


def own_kinds(frames: list[Any], prompt_id: str) -> list[str]:
    return [
        frame["type"]
        for frame in frames
        if not isinstance(frame, bytes) and frame["data"].get("prompt_id") == prompt_id
    ]


def test_queued_prompts_run_on_every_node_and_each_reaches_its_client_in_order(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(
        nodes=2, knobs={"node_delay": 0.05}, COMFY_ROUTER__NODE__QUEUE_AHEAD="0"
    )
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        lone = client.queue_prompt(tiny_graph(seed=100))["prompt_id"]
        expected = own_kinds(follow(socket, lone), lone)
        answers = [client.queue_prompt(tiny_graph(seed=seed)) for seed in range(PROMPTS)]
        prompt_ids = [answer["prompt_id"] for answer in answers]
        frames = follow_all(socket, prompt_ids)
    for prompt_id in prompt_ids:
        assert own_kinds(frames, prompt_id) == expected, prompt_id
    for frame in frames:
        if not isinstance(frame, bytes):
            assert_shaped_like_comfyui(frame)
    numbers = [answer["number"] for answer in answers]
    assert numbers == sorted(numbers)
    assert all(node.log.prompts for node in cluster.nodes)
    assert sum(len(node.log.prompts) for node in cluster.nodes) == PROMPTS + 1
    history = client.request("GET", "/history")
    assert all(history[p]["status"]["status_str"] == "success" for p in prompt_ids)
