"""ComfyUI sends a node's text frames (binary event 3, e.g. GetImageSize's) to every websocket
on the server, not only to its prompt's client. The router keeps a websocket on a node for each
prompt it has queued there, so another client's prompt waiting in that node's queue would hear
them: they reach only the client whose prompt is running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.support.cluster import Cluster, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, executing, follow, frames_until
from tests.support.queue_ahead import wait_until

EVENT_TEXT = 3


def sampler_then_text(seed: int) -> dict[str, Any]:
    """The sampler graph whose image goes to GetImageSize (a text frame) and PreviewAny."""
    graph = sampler_graph(seed=seed, steps=2)
    del graph["9"]
    graph["10"] = {"class_type": "GetImageSize", "inputs": {"image": ["8", 0]}}
    graph["11"] = {"class_type": "PreviewAny", "inputs": {"source": ["10", 0]}}
    return graph


def test_a_text_frame_reaches_only_its_prompts_client(
    cluster_factory: Callable[..., Cluster],
) -> None:
    # Sampler steps long enough for the second prompt to be queued on the node meanwhile.
    cluster = cluster_factory(nodes=1, knobs={"step_delay": 2.0})
    [node] = cluster.nodes
    running, queued = ScriptClient(cluster.router.url), ScriptClient(cluster.router.url)
    with running.websocket() as running_socket, queued.websocket() as queued_socket:
        first = running.queue_prompt(sampler_then_text(1))["prompt_id"]
        frames_until(running_socket, executing(first, "3"))
        second = queued.queue_prompt(tiny_graph(seed=2, save="SaveImage"))["prompt_id"]
        wait_until(lambda: len(node.log.prompts) == 2, "the second prompt is queued on the node")
        first_frames = follow(running_socket, first, timeout=60)
        second_frames = follow(queued_socket, second, timeout=60)
    assert len(text_frames(first_frames)) == 1
    assert [frame for frame in second_frames if isinstance(frame, bytes)] == []


def text_frames(frames: list[Any]) -> list[bytes]:
    return [f for f in frames if isinstance(f, bytes) and f[:4] == EVENT_TEXT.to_bytes(4, "big")]
