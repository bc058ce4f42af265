"""A whole graph checked against node schemas the way ComfyUI's `validate_prompt` does, built on
the router's own input checks: the oracle the builders' graphs are held to.

Each class_type must exist, there must be an output node, every required input must be present,
and every input must pass `input_error`. Unlike ComfyUI it checks every node, not only those an
output depends on.
"""

from __future__ import annotations

from typing import Any

from workflows.graphs.builders.file_inputs import FILE_INPUT_FOLDERS
from workflows.graphs.validation import input_error


def validate_graph(graph: Any, object_info: dict[str, Any]) -> list[str]:
    """All problems ComfyUI would reject the graph for, as messages naming node and input; [] if none."""
    if not isinstance(graph, dict) or not graph:
        return ["the graph must be a non-empty mapping of node id to node"]
    errors: list[str] = []
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            errors.append(f"node {node_id}: has no class_type")
        elif node["class_type"] not in object_info:
            errors.append(f"node {node_id}: class_type {node['class_type']!r} does not exist")
    if errors:
        return errors
    if not any(object_info[node["class_type"]].get("output_node") for node in graph.values()):
        return ["the graph has no output node"]
    for node_id, node in graph.items():
        errors.extend(node_errors(graph, str(node_id), object_info))
    return errors


def node_errors(graph: dict[str, Any], node_id: str, object_info: dict[str, Any]) -> list[str]:
    node = graph[node_id]
    class_type = node["class_type"]
    inputs = node.get("inputs")
    prefix = f"node {node_id} ({class_type})"
    if not isinstance(inputs, dict):
        return [f"{prefix}: inputs must be a mapping"]
    schema = object_info[class_type].get("input", {})
    errors = [
        f"{prefix}: required input {name!r} is missing"
        for name in (schema.get("required") or {})
        if name not in inputs
    ]
    for section in ("required", "optional"):
        for name, spec in (schema.get(section) or {}).items():
            if name in inputs:
                is_file = (class_type, name) in FILE_INPUT_FOLDERS
                problem = input_error(graph, list(spec), inputs[name], object_info, is_file=is_file)
                if problem:
                    errors.append(f"{prefix}: input {name!r} {problem}")
    return errors
