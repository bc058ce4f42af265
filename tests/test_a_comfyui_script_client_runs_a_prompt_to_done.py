"""A ComfyUI script client pointed at the router runs a prompt to its end as on one ComfyUI: the
websocket's messages, `/history`, `/history?max_items` and `GET /prompt` take the shapes a real
ComfyUI 0.8.0 gave them (trace `sd15_txt2img`: the same checkpoint, sampler and SaveImage graph,
previews asked for, a client without feature flags), at `/X` and at `/api/X`.

What differs on purpose: `status` messages are the router's, about the pool (ComfyUI also sends
one when a prompt starts), so they are left out of the order compared. The `executed` of a node
that saved files comes once the router has stored them, just before the end message; the
`progress_state` that followed it on the node is held until then, so the order is ComfyUI's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cluster import Cluster, sampler_graph, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow
from tests.support.comfyui_traces import (
    assert_shaped_like_comfyui,
    binary_header,
    first_appearances,
    json_shape,
    kinds,
    recorded_history_entry,
    recorded_http,
    recorded_kinds,
    require_traces,
    trace,
)

TRACE = "sd15_txt2img"  # checkpoint → prompts → KSampler (2 steps, previews) → SaveImage


def saving_sampler_graph(seed: int) -> dict[str, Any]:
    graph = sampler_graph(seed=seed, steps=2)
    graph["9"] = {
        "class_type": "SaveImage",
        "inputs": {"images": ["8", 0], "filename_prefix": "script_client"},
    }
    return graph


def collapsed(sequence: list[str], leaving_out: tuple[str, ...]) -> list[str]:
    """The sequence without those kinds, each run of one kind counted once."""
    kept = [kind for kind in sequence if kind not in leaving_out]
    return [kind for index, kind in enumerate(kept) if index == 0 or kept[index - 1] != kind]


def prompt_ids_in(message: dict[str, Any]) -> set[str]:
    data = message["data"]
    found = {data["prompt_id"]} if "prompt_id" in data else set()
    if message["type"] == "progress_state":
        found |= {entry["prompt_id"] for entry in data["nodes"].values()}
    return found


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    require_traces()
    return cluster_factory(nodes=1)


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_a_prompt_runs_to_done_with_comfyuis_messages_in_comfyuis_order(
    cluster: Cluster, prefix: str
) -> None:
    client = ScriptClient(cluster.router.url, prefix=prefix)
    with client.websocket() as socket:
        answer = client.queue_prompt(saving_sampler_graph(1), extra_data={"preview_method": "auto"})
        frames = follow(socket, answer["prompt_id"])
    prompt_id = answer["prompt_id"]
    assert set(answer) == {"prompt_id", "number", "node_errors"} and answer["node_errors"] == {}
    assert isinstance(answer["number"], int)
    first = frames[0]
    assert first["type"] == "status" and first["data"]["sid"] == client.client_id
    messages = [frame for frame in frames if not isinstance(frame, bytes)]
    for message in messages:
        assert_shaped_like_comfyui(message)
        assert prompt_ids_in(message) <= {prompt_id}, message
    ours = [m for m in messages if "prompt_id" in m["data"]]
    assert ours, "no message of the prompt was relayed"
    # The kinds first appear in ComfyUI's order, and follow one another as there.
    expected = recorded_kinds(TRACE)
    assert first_appearances(kinds(frames)) == first_appearances(expected)
    leave_out = ("status",)
    assert collapsed(kinds(frames), leave_out) == collapsed(expected, leave_out)
    assert kinds(frames)[-5:] == [
        "executed",
        "progress_state",
        "execution_success",
        "status",
        "executing",
    ]
    final = next(m for m in reversed(messages) if m["type"] == "progress_state")
    assert {node["state"] for node in final["data"]["nodes"].values()} == {"finished"}
    assert frames[-1]["data"] == {"node": None, "prompt_id": prompt_id}
    executed = next(m for m in messages if m["type"] == "executed")
    assert executed["data"]["node"] == "9"
    [image] = executed["data"]["output"]["images"]
    assert image["type"] == "output" and image["filename"].endswith(".png")


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_a_finished_prompt_is_in_the_history_in_comfyuis_shape(
    cluster: Cluster, prefix: str
) -> None:
    client = ScriptClient(cluster.router.url, prefix=prefix)
    with client.websocket() as socket:
        answer = client.queue_prompt(saving_sampler_graph(2), extra_data={"preview_method": "auto"})
        follow(socket, answer["prompt_id"])
    prompt_id = answer["prompt_id"]
    graph = saving_sampler_graph(2)

    history = client.history(prompt_id)
    assert list(history) == [prompt_id]
    entry = history[prompt_id]
    recorded_entry = recorded_history_entry(TRACE)
    recorded_prompt = list(recorded_entry["prompt"])
    recorded_prompt[2] = graph  # the graphs differ in names and numbers only
    assert json_shape(entry) == json_shape({**recorded_entry, "prompt": recorded_prompt})
    number, listed_id, prompt, extra_data, outputs_to_execute = entry["prompt"]
    assert (number, listed_id, prompt) == (answer["number"], prompt_id, graph)
    assert extra_data["client_id"] == client.client_id
    assert extra_data["preview_method"] == "auto"
    assert outputs_to_execute == ["9"]
    assert entry["status"]["status_str"] == "success" and entry["status"]["completed"] is True
    assert [kind for kind, _ in entry["status"]["messages"]] == [
        kind for kind, _ in recorded_entry["status"]["messages"]
    ]
    assert all(data["prompt_id"] == prompt_id for _, data in entry["status"]["messages"])
    assert list(entry["outputs"]) == ["9"] and list(entry["meta"]) == ["9"]

    everything = client.request("GET", "/history")
    assert prompt_id in everything and everything[prompt_id] == entry
    assert list(client.request("GET", "/history", max_items="1")) == [prompt_id]
    assert client.request("GET", "/prompt") == {"exec_info": {"queue_remaining": 0}}
    assert json_shape(client.request("GET", "/prompt")) == json_shape(
        recorded_http("basic_endpoints", "GET", "/prompt")["response"]
    )


def test_text_frames_and_text_outputs_come_as_comfyui_sends_them(cluster: Cluster) -> None:
    """GetImageSize sends a binary text frame (event 3) and PreviewAny a text output: relayed as
    the node sends them (trace `binary_text_event`, its graph replayed). ComfyUI also sends the
    text frame to every other client (trace `binary_text_event_observer`); the router, to the
    prompt's client only."""
    name = "binary_text_event"
    client = ScriptClient(cluster.router.url)
    graph = recorded_http(name, "POST", "/prompt")["request_json"]["prompt"]
    with client.websocket() as socket:
        prompt_id = client.queue_prompt(graph)["prompt_id"]
        frames = follow(socket, prompt_id)
    without_status = [kind for kind in kinds(frames) if kind != "status"]
    assert without_status == [kind for kind in recorded_kinds(name) if kind != "status"]
    [text_frame] = [frame for frame in frames if isinstance(frame, bytes)]
    recorded_frame = next(r for r in trace(name) if r["kind"] == "ws_binary")
    event, length = binary_header(text_frame)
    assert (event, length) == (recorded_frame["u32_0"], recorded_frame["u32_1"])
    assert text_frame[8 : 8 + length].decode() == recorded_frame["node_id"]
    assert text_frame[8 + length :].decode() == recorded_frame["text"]
    executed = next(f for f in frames if not isinstance(f, bytes) and f["type"] == "executed")
    recorded_executed = next(
        r["msg"] for r in trace(name) if r["kind"] == "ws_text" and r["msg"]["type"] == "executed"
    )
    assert executed["data"] == {**recorded_executed["data"], "prompt_id": prompt_id}
    assert client.history(prompt_id)[prompt_id]["outputs"] == {"3": {"text": ["64"]}}


def test_a_prompt_queued_again_unchanged_ends_with_its_saved_image_again(cluster: Cluster) -> None:
    """Its nodes are cached on the node, which reports the saved image without saving it anew
    (`executed` of a cached node), as ComfyUI does when a client queues a prompt twice."""
    client = ScriptClient(cluster.router.url)
    graph = tiny_graph(seed=5, save="SaveImage")
    with client.websocket() as socket:
        for _ in range(2):
            prompt_id = client.queue_prompt(graph)["prompt_id"]
            frames = follow(socket, prompt_id)
            assert kinds(frames)[-3:] == ["execution_success", "status", "executing"]
            [message] = [f for f in frames if not isinstance(f, bytes) and f["type"] == "executed"]
            assert_shaped_like_comfyui(message)
            [image] = message["data"]["output"]["images"]
            # The router's /view serves a prompt's outputs under its id.
            assert image["subfolder"] == prompt_id and image["filename"].endswith(".png")
            outputs = client.history(prompt_id)[prompt_id]["outputs"]
            assert outputs == {"2": message["data"]["output"]}
    first, again = cluster.nodes[0].log.prompts
    assert again.cached == ["1", "2"]
