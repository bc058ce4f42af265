"""`POST /prompt` checks input values as ComfyUI 0.8.0 does, against the classes the pool's nodes
describe: an INT that does not convert, a value below its minimum, a choice not in its list are
ComfyUI's own 400, word for word (traces `err_bad_input_type`, `err_value_below_min`,
`err_combo_value_not_in_list`), and nothing runs. As in ComfyUI, a prompt with one output node
that passes and one that does not is accepted with the other's errors in `node_errors`, and
runs the output that passes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cluster import Cluster, tiny_graph
from tests.support.comfyui_script_client import ScriptClient, follow
from tests.support.comfyui_traces import recorded_http, require_traces


@pytest.fixture
def cluster(cluster_factory: Callable[..., Cluster]) -> Cluster:
    require_traces()
    return cluster_factory(nodes=1)


def recorded_refusal(trace_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    exchange = recorded_http(trace_name, "POST", "/prompt")
    assert exchange["status"] == 400
    return exchange["request_json"], exchange["response"]


@pytest.mark.parametrize(
    "trace_name", ["err_bad_input_type", "err_value_below_min", "err_combo_value_not_in_list"]
)
def test_a_bad_value_is_comfyuis_400_word_for_word(cluster: Cluster, trace_name: str) -> None:
    client = ScriptClient(cluster.router.url)
    body, recorded = recorded_refusal(trace_name)
    status, answer = client.error("POST", "/prompt", body)
    assert (status, answer) == (400, recorded)
    assert cluster.nodes[0].log.prompts == []
    assert client.request("GET", "/history") == {}


def test_a_value_past_its_maximum_names_the_input_and_the_maximum(cluster: Cluster) -> None:
    client = ScriptClient(cluster.router.url)
    graph = tiny_graph(seed=1)
    graph["1"]["inputs"]["height"] = 99_999
    status, answer = client.error("POST", "/prompt", {"prompt": graph})
    assert status == 400
    assert answer["error"]["type"] == "prompt_outputs_failed_validation"
    [error] = answer["node_errors"]["1"]["errors"]
    assert error["type"] == "value_bigger_than_max"
    assert error["message"] == "Value 99999 bigger than max of 16384"
    assert (error["details"], error["extra_info"]["input_name"]) == ("height", "height")
    assert answer["node_errors"]["1"]["dependent_outputs"] == ["2"]


def test_a_prompt_with_one_good_output_runs_it_and_names_the_others_errors(
    cluster: Cluster,
) -> None:
    client = ScriptClient(cluster.router.url)
    graph = tiny_graph(seed=2, save="SaveImage")
    graph["3"] = {
        "class_type": "EmptyImage",
        "inputs": {"width": 0, "height": 64, "batch_size": 1, "color": 3},
    }
    graph["4"] = {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}}
    with client.websocket() as socket:
        answer = client.queue_prompt(graph)
        follow(socket, answer["prompt_id"])
    assert list(answer["node_errors"]) == ["3"]
    [error] = answer["node_errors"]["3"]["errors"]
    assert (error["type"], error["details"]) == ("value_smaller_than_min", "width")
    assert answer["node_errors"]["3"]["dependent_outputs"] == ["4"]
    entry = client.history(answer["prompt_id"])[answer["prompt_id"]]
    assert entry["status"]["status_str"] == "success"
    assert list(entry["outputs"]) == ["2"]


def test_a_url_given_for_a_file_input_is_no_choice_to_check(cluster: Cluster) -> None:
    """File inputs are the router's: a URL is fetched into the cache and named there, and a
    model name is checked against what the nodes have, not against a list of choices."""
    client = ScriptClient(cluster.router.url)
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "https://example.invalid/a.png"}},
        "2": {"class_type": "PreviewImage", "inputs": {"images": ["1", 0]}},
    }
    answer = client.queue_prompt(graph)
    assert answer["node_errors"] == {}
