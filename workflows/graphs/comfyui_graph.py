"""Checks on a user's API-format graph (`ComfyUI` workflows) before it is accepted.

Nodes may have custom nodes installed, so class types missing from our object_info are accepted;
only links *into* and *out of* known classes are checked against their schemas. Errors come back
in DRF's nested shape keyed by node id and input name (`{"5": {"inputs": {"model": [...]}}}`),
or as a list of messages about the graph as a whole.
"""

from __future__ import annotations

from typing import Any

from workflows.graphs import limits
from workflows.graphs.builders.file_inputs import FILE_INPUT_FOLDERS, IMAGE_INPUTS
from workflows.graphs.builders.images import InvalidImage, ReadBudget, decode_base64_image
from workflows.graphs.object_info import (
    WILDCARD_TYPES,
    input_spec,
    object_info,
    spec_type,
)
from workflows.graphs.urls import looks_like_url, url_error
from workflows.graphs.validation import link_error

NodeErrors = dict[str, Any]


def api_graph_errors(graph: Any) -> NodeErrors | list[str]:
    """Problems with a submitted graph; an empty dict when there are none."""
    if not isinstance(graph, dict):
        return ["Expected an API-format graph: a mapping of node id to {class_type, inputs}."]
    if not graph:
        return ["The graph has no nodes."]
    if len(graph) > limits.MAX_GRAPH_NODES:
        return [f"The graph has more than {limits.MAX_GRAPH_NODES} nodes."]
    if _input_count(graph) > limits.MAX_GRAPH_INPUTS:
        return [f"The graph has more than {limits.MAX_GRAPH_INPUTS} inputs in all."]
    if "nodes" in graph and "links" in graph:
        return ["This is a UI-format workflow; export it with 'Export (API)'."]
    errors: NodeErrors = {}
    budget = ReadBudget(scope="the graph's inline images together")  # checking them all is bounded
    for node_id, node in graph.items():
        problems = _node_errors(graph, node_id, node, budget)
        if problems:
            errors[node_id] = problems
    if errors:
        return errors
    errors = _cycle_errors(graph)
    if errors:
        return errors
    info = object_info()
    class_types = {node["class_type"] for node in graph.values()}
    has_output = any(info[c].get("output_node") for c in class_types if c in info)
    if not has_output and class_types <= info.keys():
        return ["The graph has no output node (SaveImage, SaveImageWebsocket, PreviewImage, …)."]
    return {}


def _input_count(graph: dict[str, Any]) -> int:
    return sum(
        len(node["inputs"])
        for node in graph.values()
        if isinstance(node, dict) and isinstance(node.get("inputs"), dict)
    )


def _node_errors(graph: dict[str, Any], node_id: str, node: Any, budget: ReadBudget) -> NodeErrors:
    if not isinstance(node, dict):
        return {"non_field_errors": ["Expected {class_type, inputs}."]}
    class_type = node.get("class_type")
    if not isinstance(class_type, str) or not class_type.strip():
        return {"class_type": ["This field is required."]}
    inputs = node.get("inputs")
    if not isinstance(inputs, dict):
        return {"inputs": ["Expected a mapping of input name to value or link."]}
    known = class_type in object_info()
    input_errors: dict[str, list[str]] = {}
    if known:
        for name, spec in (object_info()[class_type]["input"].get("required") or {}).items():
            if name not in inputs and spec_type(list(spec)) not in WILDCARD_TYPES:
                input_errors[name] = ["This input is required."]
    for name, value in inputs.items():
        problem = _input_error(graph, class_type, name, value, budget)
        if problem:
            input_errors[name] = [problem]
    return {"inputs": input_errors} if input_errors else {}


def _input_error(
    graph: dict[str, Any], class_type: str, name: str, value: Any, budget: ReadBudget
) -> str | None:
    if isinstance(value, list):
        spec = input_spec(class_type, name)
        expected = spec_type(spec) if spec else "*"
        problem = link_error(graph, value, expected, object_info())
        return _sentence(problem) if problem else None
    if (class_type, name) not in FILE_INPUT_FOLDERS:
        return None
    if isinstance(value, dict) and (class_type, name) in IMAGE_INPUTS:
        return _inline_image_error(value, budget)
    if isinstance(value, str) and looks_like_url(value):
        return url_error(value)
    return None


def _inline_image_error(value: dict[str, Any], budget: ReadBudget) -> str | None:
    kind, content = value.get("type"), value.get("content")
    if kind not in ("url", "base64") or not isinstance(content, str) or set(value) - {"type", "content"}:
        return 'An image is a file name or {"type": "url" | "base64", "content": ...}.'
    if kind == "url":
        return url_error(content)
    try:
        decode_base64_image(content, budget=budget)
    except InvalidImage as exc:
        return str(exc)
    return None


def _cycle_errors(graph: dict[str, Any]) -> NodeErrors:
    """ComfyUI cannot order a graph whose links loop back; name one node on each loop found."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    errors: NodeErrors = {}
    for start in graph:
        if start in state:
            continue
        stack: list[tuple[str, list[str]]] = [(start, _sources(graph, start))]
        state[start] = 1
        while stack:
            node_id, pending = stack[-1]
            if not pending:
                state[node_id] = 2
                stack.pop()
                continue
            source = pending.pop()
            if state.get(source) == 1:
                errors[source] = {"non_field_errors": ["This node is part of a dependency cycle."]}
            elif source not in state:
                state[source] = 1
                stack.append((source, _sources(graph, source)))
    return errors


def _sources(graph: dict[str, Any], node_id: str) -> list[str]:
    inputs = graph[node_id].get("inputs") or {}
    return [value[0] for value in inputs.values() if isinstance(value, list) and value and value[0] in graph]


def _sentence(problem: str) -> str:
    return problem[0].upper() + problem[1:] + "."
