"""The value checks of `POST /prompt` (`workflows.graphs.comfyui_values`) follow ComfyUI 0.8.0's
rules: only nodes an output depends on are checked; a refused node names every output depending
on it; a node fed by a refused one fails without being named; long choice lists are sent as their
length; classes the pool does not describe and the router's file inputs are not checked; a chain
of a thousand nodes is walked without recursion."""

from __future__ import annotations

from typing import Any

from workflows.graphs.comfyui_values import value_errors

CLASSES: dict[str, dict[str, Any]] = {
    "Number": {
        "input": {
            "required": {
                "n": ["INT", {"default": 1, "min": 1, "max": 10}],
                "scale": ["FLOAT", {"min": 0.0, "max": 1.0}],
            },
            "optional": {"source": ["NUMBER"]},
        },
        "output": ["NUMBER"],
    },
    "Pick": {
        "input": {
            "required": {
                "mode": [["a", "b"]],
                "many": [[f"m{i}" for i in range(30)], {}],
                "file": [["x.safetensors"]],
            }
        },
        "output": ["NUMBER"],
    },
    "Save": {"input": {"required": {"value": ["NUMBER"]}}, "output": [], "output_node": True},
}


def check(graph: dict[str, Any]) -> Any:
    return value_errors(graph, CLASSES.get, lambda class_type, name: name == "file")


def number(n: Any = 1, scale: Any = 0.5, source: str | None = None) -> dict[str, Any]:
    inputs: dict[str, Any] = {"n": n, "scale": scale}
    if source is not None:
        inputs["source"] = [source, 0]
    return {"class_type": "Number", "inputs": inputs}


def save(source: str) -> dict[str, Any]:
    return {"class_type": "Save", "inputs": {"value": [source, 0]}}


def test_values_that_convert_within_their_limits_pass() -> None:
    found = check({"1": number("7", "0.25"), "2": save("1")})
    assert (found.node_errors, found.failed_outputs, found.outputs) == ({}, [], ["2"])


def test_each_rule_has_comfyuis_type_and_words() -> None:
    cases = {
        "invalid_input_type": (
            number(n="seven"),
            "Failed to convert an input value to a INT value",
        ),
        "value_smaller_than_min": (number(n=0), "Value 0 smaller than min of 1"),
        "value_bigger_than_max": (number(scale=1.5), "Value 1.5 bigger than max of 1.0"),
    }
    for kind, (node, message) in cases.items():
        found = check({"1": node, "2": save("1")})
        [error] = found.node_errors["1"]["errors"]
        assert (error["type"], error["message"]) == (kind, message)
        assert found.every_output_failed


def test_a_choice_not_in_a_short_list_names_the_list_and_a_long_one_its_length() -> None:
    pick = {"class_type": "Pick", "inputs": {"mode": "c", "many": "m99", "file": "y"}}
    found = check({"1": pick, "2": save("1")})
    short, long = found.node_errors["1"]["errors"]
    assert short["details"] == "mode: 'c' not in ['a', 'b']"
    assert short["extra_info"]["input_config"] == [["a", "b"], {}]
    assert long["details"] == "many: 'm99' not in (list of length 30)"
    assert long["extra_info"]["input_config"] is None


def test_a_refused_node_names_every_output_depending_on_it_and_not_those_it_feeds() -> None:
    graph = {
        "1": number(n=0),
        "2": number(source="1"),
        "3": save("2"),
        "4": save("1"),
        "5": number(),
        "6": save("5"),
    }
    found = check(graph)
    assert list(found.node_errors) == ["1"]
    assert found.node_errors["1"]["dependent_outputs"] == ["3", "4"]
    assert found.failed_outputs == ["3", "4"] and not found.every_output_failed


def test_nodes_no_output_depends_on_are_not_checked() -> None:
    found = check({"1": number(n=0), "2": number(), "3": save("2")})
    assert found.node_errors == {}


def test_classes_the_pool_does_not_describe_and_file_inputs_are_not_checked() -> None:
    custom = {"class_type": "SomeCustomNode", "inputs": {"n": "anything"}}
    pick = {"class_type": "Pick", "inputs": {"mode": "a", "many": "m1", "file": "elsewhere"}}
    found = check({"1": custom, "2": pick, "3": save("2")})
    assert found.node_errors == {}


def test_a_chain_of_a_thousand_nodes_is_walked_without_recursion() -> None:
    graph = {"0": number(n=0)}
    for index in range(1, 1000):
        graph[str(index)] = number(source=str(index - 1))
    graph["out"] = save("999")
    found = check(graph)
    assert list(found.node_errors) == ["0"]
    assert found.node_errors["0"]["dependent_outputs"] == ["out"]
