"""A prompt that fails ends, for its ComfyUI client, as on one ComfyUI: `execution_error`, then
`status` and the end marker `executing {node: null}`, and `/history` shows it with status
`error`. A failure on the node is relayed with the node's own fields (node, class, exception
type and message, traceback, inputs, outputs; trace `err_exec_corrupt_image`, replayed here). A
failure only the router sees (a model URL that answers 404, a prompt the node refuses, a node
lost mid-run) ends the same way, its `execution_error` made by the router.

Not ComfyUI: a prompt the router ends without any node having run it names no node
(`node_id` and `node_type` are null), and its `/history` messages hold only that error.
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
    recorded_http,
    recorded_kinds,
    require_traces,
)
from tests.support.file_server import FileServer, file_server  # noqa: F401  (fixture)

TRACE = "err_exec_corrupt_image"  # LoadImage of a corrupt file → SaveImage
NO_NODE = ("node_id", "node_type")


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    require_traces()
    return cluster_factory(nodes=1)


def run(client: ScriptClient, graph: dict[str, Any]) -> tuple[str, list[Any]]:
    with client.websocket() as socket:
        answer = client.queue_prompt(graph)
        return answer["prompt_id"], follow(socket, answer["prompt_id"])


def messages(frames: list[Any]) -> list[dict[str, Any]]:
    return [frame for frame in frames if not isinstance(frame, bytes)]


def the_error(frames: list[Any]) -> dict[str, Any]:
    [error] = [m for m in messages(frames) if m["type"] == "execution_error"]
    return error["data"]


def assert_ended_by_error(prompt_id: str, frames: list[Any]) -> None:
    assert kinds(frames)[-3:] == ["execution_error", "status", "executing"]
    assert frames[-1]["data"] == {"node": None, "prompt_id": prompt_id}
    assert the_error(frames)["prompt_id"] == prompt_id


def test_a_nodes_execution_error_is_relayed_with_the_nodes_fields(cluster: Cluster) -> None:
    (cluster.router.root_dir / "input" / "corrupt.png").write_bytes(bytes(range(200)))
    client = ScriptClient(cluster.router.url)
    graph = recorded_http(TRACE, "POST", "/prompt")["request_json"]["prompt"]
    prompt_id, frames = run(client, graph)

    assert_ended_by_error(prompt_id, frames)
    for message in messages(frames):
        assert_shaped_like_comfyui(message)
    without_status = [kind for kind in kinds(frames) if kind != "status"]
    assert without_status == [kind for kind in recorded_kinds(TRACE) if kind != "status"]
    error = the_error(frames)
    assert (error["node_id"], error["node_type"]) == ("1", "LoadImage")
    assert error["exception_type"] == "PIL.UnidentifiedImageError"
    assert "corrupt.png" in error["exception_message"]
    assert error["traceback"] and error["current_inputs"] == {"image": ["corrupt.png"]}
    assert error["executed"] == [] and isinstance(error["current_outputs"], list)

    entry = client.history(prompt_id)[prompt_id]
    recorded = recorded_history_entry(TRACE)
    assert set(entry) == set(recorded) and set(entry["status"]) == set(recorded["status"])
    for kind, data in entry["status"]["messages"]:
        assert_shaped_like_comfyui({"type": kind, "data": data})
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    assert [kind for kind, _ in entry["status"]["messages"]] == [
        kind for kind, _ in recorded["status"]["messages"]
    ]
    assert entry["status"]["messages"][-1][1] == error
    assert entry["outputs"] == {}


def test_a_failure_on_a_node_set_to_fail_names_its_exception(
    cluster_factory: Callable[..., Cluster],
) -> None:
    require_traces()
    cluster = cluster_factory(
        nodes=1, knobs={"fail_at_node": "2", "fail_exception_type": "torch.OutOfMemoryError"}
    )
    client = ScriptClient(cluster.router.url)
    prompt_id, frames = run(client, tiny_graph(seed=1, save="SaveImage"))
    assert_ended_by_error(prompt_id, frames)
    error = the_error(frames)
    assert_shaped_like_comfyui({"type": "execution_error", "data": error})
    assert (error["node_id"], error["node_type"]) == ("2", "SaveImage")
    assert error["exception_type"] == "torch.OutOfMemoryError"
    assert error["executed"] == ["1"]
    status = client.history(prompt_id)[prompt_id]["status"]
    assert (status["status_str"], status["completed"]) == ("error", False)


def test_a_model_url_that_answers_404_ends_the_prompt_with_execution_error(
    cluster: Cluster, file_server: FileServer  # noqa: F811
) -> None:
    client = ScriptClient(cluster.router.url)
    graph = {
        "4": {
            "class_type": "CheckpointLoaderSimple",
            "inputs": {"ckpt_name": file_server.url("/missing/gone.safetensors")},
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["4", 2]}},
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1},
        },
        "9": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]}},
    }
    prompt_id, frames = run(client, graph)

    assert_ended_by_error(prompt_id, frames)
    assert kinds(frames) == ["status", "status", "execution_error", "status", "executing"]
    error = the_error(frames)
    assert_shaped_like_comfyui({"type": "execution_error", "data": error}, may_be_null=NO_NODE)
    assert "gone.safetensors" in error["exception_message"]
    assert cluster.nodes[0].log.prompts == []
    entry = client.history(prompt_id)[prompt_id]
    assert entry["status"]["status_str"] == "error" and entry["status"]["completed"] is False
    assert entry["status"]["messages"] == [["execution_error", error]]


def test_a_prompt_the_node_refuses_ends_with_execution_error(cluster: Cluster) -> None:
    """An input image the node does not have passes the router's checks (uploads and files
    fetched into the cache are the router's to place, not a list of choices to check); the
    node's own refuses it."""
    client = ScriptClient(cluster.router.url)
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "nowhere.png"}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }
    prompt_id, frames = run(client, graph)

    assert_ended_by_error(prompt_id, frames)
    error = the_error(frames)
    assert_shaped_like_comfyui({"type": "execution_error", "data": error}, may_be_null=NO_NODE)
    assert error["node_id"] == "1" and error["node_type"] == "LoadImage"
    assert "nowhere.png" in error["exception_message"]
    status = client.history(prompt_id)[prompt_id]["status"]
    assert (status["status_str"], status["completed"]) == ("error", False)


def test_a_prompt_whose_node_dies_mid_run_ends_with_execution_error(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1, knobs={"step_delay": 3600.0})
    [node] = cluster.nodes
    client = ScriptClient(cluster.router.url)
    with client.websocket() as socket:
        prompt_id = client.queue_prompt(sampler_graph(seed=1))["prompt_id"]
        frames = frames_until(socket, executing(prompt_id, "3"))
        node.stop()
        frames += follow(socket, prompt_id, timeout=60)
    assert_ended_by_error(prompt_id, frames)
    error = the_error(frames)
    assert_shaped_like_comfyui({"type": "execution_error", "data": error}, may_be_null=NO_NODE)
    status = client.history(prompt_id)[prompt_id]["status"]
    assert (status["status_str"], status["completed"]) == ("error", False)
