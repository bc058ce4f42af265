"""A prompt the router's own checks refuse is a 400 in ComfyUI's shape, `{"error": {type,
message, details, extra_info}, "node_errors": {node_id: {errors, dependent_outputs,
class_type}}}`, naming the node and the input as a real ComfyUI 0.8.0 does (traces `err_*`), so
a ComfyUI client shows its usual message; no task is made and no node hears of it.

Values within a node's inputs (a width below its minimum, a choice not in its list) are checked
as ComfyUI words them (tests/test_comfyui_prompts_with_bad_values_are_refused_as_comfyui_refuses_
them.py). Not ComfyUI: the refusals here are the router's own checks (the graph's structure, what
the pool has), in the router's words; their types and the fields that carry meaning are ComfyUI's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient
from tests.support.comfyui_traces import json_shape, recorded_http, require_traces


def recorded_refusal(trace_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The body a trace posted to /prompt, and ComfyUI's 400 answer to it."""
    exchange = recorded_http(trace_name, "POST", "/prompt")
    assert exchange["status"] == 400
    return exchange["request_json"], exchange["response"]


def error_shape(answer: dict[str, Any]) -> Any:
    return json_shape({**answer, "node_errors": {}})


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    require_traces()
    return cluster_factory(nodes=1)


def assert_nothing_ran(cluster: Cluster, client: ScriptClient) -> None:
    assert cluster.nodes[0].log.prompts == []
    assert client.queue() == {"queue_running": [], "queue_pending": []}
    assert client.request("GET", "/history") == {}


def test_a_missing_required_input_names_the_node_and_input(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    body, recorded = recorded_refusal("err_missing_required_input")
    status, answer = client.error("POST", "/prompt", {**body, "client_id": client.client_id})
    assert status == 400
    assert answer["error"] == recorded["error"]
    assert list(answer["node_errors"]) == list(recorded["node_errors"]) == ["1"]
    node, recorded_node = answer["node_errors"]["1"], recorded["node_errors"]["1"]
    assert set(node) == set(recorded_node)
    assert node["class_type"] == "EmptyImage"
    assert node["errors"] == recorded_node["errors"]
    assert_nothing_ran(cluster, client)


def test_a_model_no_node_has_names_the_loader_and_its_input(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    body, recorded = recorded_refusal("err_ckpt_not_in_list")
    status, answer = client.error("POST", "/prompt", {**body, "client_id": client.client_id})
    assert status == 400
    assert error_shape(answer) == error_shape(recorded)
    assert answer["error"] == recorded["error"]  # prompt_outputs_failed_validation
    assert list(answer["node_errors"]) == list(recorded["node_errors"]) == ["4"]
    node = answer["node_errors"]["4"]
    assert set(node) == set(recorded["node_errors"]["4"])
    assert node["class_type"] == "CheckpointLoaderSimple"
    assert node["dependent_outputs"] == recorded["node_errors"]["4"]["dependent_outputs"]
    [error] = node["errors"]
    [recorded_error] = recorded["node_errors"]["4"]["errors"]
    assert (error["type"], error["message"]) == ("value_not_in_list", "Value not in list")
    assert set(error["extra_info"]) == set(recorded_error["extra_info"])
    assert error["extra_info"]["received_value"] == "no_such_model.safetensors"
    # The choices are the pool's (its one node has other models than the recorded ComfyUI).
    described = client.request("GET", "/object_info/CheckpointLoaderSimple")
    choices = described["CheckpointLoaderSimple"]["input"]["required"]["ckpt_name"][0]
    assert error["extra_info"]["input_config"][0] == choices
    assert error["details"] == f"ckpt_name: 'no_such_model.safetensors' not in {choices}"
    assert_nothing_ran(cluster, client)


def test_a_link_to_a_missing_node_names_the_linking_node(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    body, recorded = recorded_refusal("err_link_to_missing_node")
    status, answer = client.error("POST", "/prompt", body)
    assert status == 400
    assert error_shape(answer) == error_shape(recorded)
    assert answer["error"]["type"] == recorded["error"]["type"]
    assert list(answer["node_errors"]) == list(recorded["node_errors"]) == ["2"]
    assert answer["error"] == recorded["error"]
    node, recorded_node = answer["node_errors"]["2"], recorded["node_errors"]["2"]
    assert (node["class_type"], node["dependent_outputs"]) == ("SaveImage", ["2"])
    [error], [recorded_error] = node["errors"], recorded_node["errors"]
    # ComfyUI's traceback is of its own code: the router sends none.
    assert {**error, "extra_info": {}} == {**recorded_error, "extra_info": {}}
    assert error["extra_info"] == {"exception_type": "KeyError", "traceback": []}
    assert_nothing_ran(cluster, client)


@pytest.mark.parametrize(
    "trace_name",
    [
        "err_unknown_class_type",
        "err_missing_class_type",
        "err_no_output_node",
        "err_request_shapes",
    ],
)
def test_a_prompt_refused_as_a_whole_has_comfyuis_error_type_and_no_node_errors(
    cluster: Cluster, trace_name: str
) -> None:
    client = ScriptClient(cluster.router.url)
    body, recorded = recorded_refusal(trace_name)
    status, answer = client.error("POST", "/prompt", body)
    assert status == 400
    assert error_shape(answer) == error_shape(recorded)
    assert answer["error"]["type"] == recorded["error"]["type"]
    assert answer["node_errors"] == recorded["node_errors"] == {}
    if trace_name != "err_request_shapes":  # the router's own words for a malformed request
        assert answer == recorded
    assert_nothing_ran(cluster, client)


def test_an_empty_prompt_has_no_outputs_as_comfyui_says(cluster: Cluster) -> None:
    _, recorded = recorded_refusal("err_no_output_node")
    client = ScriptClient(cluster.router.url)
    assert client.error("POST", "/prompt", {"prompt": {}}) == (400, recorded)


def test_a_body_without_prompt_is_no_prompt_as_comfyui_words_it(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    _, recorded = recorded_refusal("err_request_shapes")
    for body in ({"client_id": client.client_id}, {"extra_data": {}}):
        status, answer = client.error("POST", "/prompt", body)
        assert (status, answer) == (400, recorded)


def test_a_graph_that_is_no_object_is_refused_in_comfyuis_shape(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    for graph in ([tiny_graph()], "a graph", 7):
        status, answer = client.error("POST", "/prompt", {"prompt": graph})
        assert status == 400
        assert set(answer) == {"error", "node_errors"}
        assert set(answer["error"]) == {"type", "message", "details", "extra_info"}
    assert_nothing_ran(cluster, client)
