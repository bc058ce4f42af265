"""A client may choose its prompt's id (`POST /prompt {"prompt_id": ...}`), as ComfyUI allows:
a fresh UUID is the id the router answers, relays every message under and keeps the prompt's
history under. An id a prompt already has, or one that is no UUID, is a 400 in ComfyUI's error
shape and makes no task.

Not ComfyUI: ComfyUI takes any string, and a second prompt with an id already used (trace
`duplicate_prompt_id`); the router's prompt ids are its task ids, UUIDs that name one task.
"""

from __future__ import annotations

import uuid

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow
from tests.support.comfyui_traces import recorded_http


def assert_refused_in_comfyuis_shape(status: int, answer: dict[str, object]) -> None:
    assert status == 400
    assert set(answer) == {"error", "node_errors"} and answer["node_errors"] == {}
    assert isinstance(answer["error"], dict)
    assert set(answer["error"]) == {"type", "message", "details", "extra_info"}


def test_a_fresh_uuid_is_the_prompts_id_everywhere(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    chosen = str(uuid.uuid4())
    with client.websocket() as socket:
        answer = client.queue_prompt(tiny_graph(seed=1), prompt_id=chosen)
        assert answer["prompt_id"] == chosen
        frames = follow(socket, chosen)
    named = {
        frame["data"]["prompt_id"]
        for frame in frames
        if not isinstance(frame, bytes) and "prompt_id" in frame["data"]
    }
    assert named == {chosen}
    assert frames[-1]["data"] == {"node": None, "prompt_id": chosen}
    entry = client.history(chosen)[chosen]
    assert entry["prompt"][1] == chosen and entry["status"]["status_str"] == "success"


def test_an_id_already_used_is_refused(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        used = client.queue_prompt(tiny_graph(seed=2))["prompt_id"]
        follow(socket, used)
    status, answer = client.error(
        "POST", "/prompt", {"prompt": tiny_graph(seed=3), "prompt_id": used}
    )
    assert_refused_in_comfyuis_shape(status, answer)
    assert used in answer["error"]["message"]
    assert len(cluster.nodes[0].log.prompts) == 1
    assert client.history(used)[used]["prompt"][2] == tiny_graph(seed=2)


def test_an_id_that_is_no_uuid_is_refused(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    recorded = recorded_http("duplicate_prompt_id", "POST", "/prompt")["request_json"]
    for prompt_id in (recorded["prompt_id"], "", 42, ["a"]):
        status, answer = client.error(
            "POST", "/prompt", {"prompt": tiny_graph(seed=4), "prompt_id": prompt_id}
        )
        assert_refused_in_comfyuis_shape(status, answer)
    assert client.queue() == {"queue_running": [], "queue_pending": []}
    assert client.request("GET", "/history") == {}
