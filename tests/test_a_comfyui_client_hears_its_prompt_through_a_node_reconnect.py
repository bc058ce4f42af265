"""When the router's websocket to a node drops mid-prompt and is opened again, the ComfyUI client
still hears its prompt as ComfyUI sends it, to its end: every message shaped as a recorded one
and naming the prompt. The node greets a reconnecting websocket with `executing {node}` (no
prompt id, ComfyUI's own reconnect message); that greeting is the router's, not the client's,
whose websocket never dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from tests.support.cluster import Cluster, sampler_graph
from tests.support.comfyui_script_client import ScriptClient, executing, follow, frames_until
from tests.support.comfyui_traces import assert_shaped_like_comfyui, kinds, require_traces


def test_a_prompt_reaches_its_client_whole_through_a_reconnect_to_its_node(
    cluster_factory: Callable[..., Cluster],
) -> None:
    require_traces()
    # Steps long enough for the router to reconnect while the sampler still runs.
    cluster = cluster_factory(nodes=1, knobs={"step_delay": 1.5})
    [node] = cluster.nodes
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        prompt_id = client.queue_prompt(sampler_graph(seed=1, steps=4))["prompt_id"]
        frames = frames_until(socket, executing(prompt_id, "3"))
        node.drop_websocket_after = 1  # the node drops its websockets after its next message
        frames += follow(socket, prompt_id, timeout=60)
    assert len(node.log.websockets) >= 2, "the router did not reconnect"
    for frame in frames:
        if not isinstance(frame, bytes):
            assert_shaped_like_comfyui(frame)
            assert frame["type"] == "status" or frame["data"]["prompt_id"] == prompt_id, frame
    assert kinds(frames)[-3:] == ["execution_success", "status", "executing"]
    assert client.history(prompt_id)[prompt_id]["status"]["status_str"] == "success"
