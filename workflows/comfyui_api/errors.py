"""Refusals in ComfyUI's shape: `{"error": {type, message, details, extra_info}, "node_errors":
{node_id: {errors: [...], dependent_outputs, class_type}}}`, which ComfyUI clients know how to
show. The router's own checks of a graph (`workflows.graphs.comfyui_graph`, and whether any
node has what it needs) name the node and input; they are reworded here, not redone. Where
ComfyUI 0.8.0 refuses the same prompt, the refusal is worded as ComfyUI words it: a node without
a class type, a class no node has, a link to a node not in the prompt, a model no node has.
"""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from comfy_router.errors import flatten_errors
from workflows.comfyui_api.pool import PoolClasses
from workflows.graphs.comfyui_values import dependent_outputs, not_in_list
from workflows.graphs.object_info import combo_values, input_spec, spec_options

INPUT_PREFIX = "inputs."
PROMPT_FIELD = "params.prompt."
CLASS_FIELD = ".class_type"
REQUIRED = "This input is required."  # the graph check's word for what ComfyUI calls missing


def comfy_error(
    status: int, kind: str, message: str, details: str | None = None, **extra: Any
) -> Response:
    body = {
        "error": {
            "type": kind,
            "message": message,
            "details": message if details is None else details,
            "extra_info": extra,
        },
        "node_errors": {},
    }
    return Response(body, status=status)


def values_refused(node_errors: dict[str, Any]) -> Response:
    """ComfyUI's 400 for a prompt none of whose outputs passed its checks. Its details are the
    errors of the output nodes themselves, as ComfyUI gives them (none when the output nodes
    fail only through the nodes they depend on)."""
    own = [
        f"{error['message']}: {error['details']}"
        for node_id, entry in node_errors.items()
        if node_id in entry["dependent_outputs"]
        for error in entry["errors"]
    ]
    answer = comfy_error(
        400, "prompt_outputs_failed_validation", "Prompt outputs failed validation", "\n".join(own)
    )
    answer.data["node_errors"] = node_errors
    return answer


def graph_refused(detail: Any, graph: Any, pool: PoolClasses) -> Response:
    """The 400 for a prompt the router's graph check refused (DRF's `detail` of the submission
    `{"type": "ComfyUI", "params": {"prompt": graph}}`)."""
    if isinstance(graph, dict):
        for node_id, node in graph.items():
            if isinstance(node, dict) and "class_type" not in node:
                return comfy_error(
                    400,
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{node_id}'",
                )
    params = detail.get("params") if isinstance(detail, dict) else None
    by_node = params.get("prompt") if isinstance(params, dict) else None
    if isinstance(by_node, dict) and by_node:
        node_errors = {
            str(node_id): {
                "errors": node_problems(problems, graph, str(node_id)),
                "dependent_outputs": dependents(graph, str(node_id), pool),
                "class_type": class_type(graph, node_id),
            }
            for node_id, problems in by_node.items()
        }
        return values_refused(node_errors)
    flat = flatten_errors(detail)
    path, messages = next(iter(flat.items()), ("body", ["Invalid prompt."]))
    message = messages[0]
    if "no output node" in message or graph == {}:
        return comfy_error(400, "prompt_no_outputs", "Prompt has no outputs", "")
    return comfy_error(400, "invalid_prompt", message, path)


def pool_refused(detail: Any, graph: dict[str, Any], pool: PoolClasses) -> Response:
    """The 400 for a prompt naming what no node of the pool has (`workflows.api.capacity`): a
    class is ComfyUI's "does not exist", a model file its "Value not in list" with the choices
    the pool offers."""
    flat = flatten_errors(detail)
    for node_id in graph:
        if f"{PROMPT_FIELD}{node_id}{CLASS_FIELD}" in flat:
            return comfy_error(
                400,
                "invalid_prompt",
                f"Cannot execute because node {graph[node_id]['class_type']} does not exist.",
                f"Node ID '#{node_id}'",
            )
    node_errors: dict[str, Any] = {}
    for path in flat:
        node_id, _, field = path.removeprefix(PROMPT_FIELD).partition(".")
        if not path.startswith(PROMPT_FIELD) or not field.startswith(INPUT_PREFIX):
            continue
        name = field.removeprefix(INPUT_PREFIX)
        entry = node_errors.setdefault(
            node_id,
            {
                "errors": [],
                "dependent_outputs": dependents(graph, node_id, pool),
                "class_type": graph[node_id]["class_type"],
            },
        )
        entry["errors"].append(file_not_in_list(graph, node_id, name, pool))
    if node_errors:
        return values_refused(node_errors)
    message = next(iter(flat.values()), ["No node of the pool can run this prompt."])[0]
    return comfy_error(400, "invalid_prompt", message, next(iter(flat), "prompt"))


def file_not_in_list(
    graph: dict[str, Any], node_id: str, name: str, pool: PoolClasses
) -> dict[str, Any]:
    """ComfyUI's "Value not in list" for a file no node has, with the choices the pool offers."""
    class_name = graph[node_id]["class_type"]
    info = pool.info(class_name)
    spec = input_spec(class_name, name, {class_name: info}) if info is not None else None
    choices = (combo_values(spec) if spec else None) or []
    options = spec_options(spec) if spec else {}
    return not_in_list(name, [choices, options], graph[node_id]["inputs"][name])


def dependents(graph: Any, node_id: str, pool: PoolClasses) -> list[str]:
    if not isinstance(graph, dict):
        return []
    return dependent_outputs(graph, node_id, pool.is_output)


def node_problems(problems: Any, graph: Any, node_id: str) -> list[dict[str, Any]]:
    found = []
    for path, messages in flatten_errors(problems).items():
        input_name = path[len(INPUT_PREFIX) :] if path.startswith(INPUT_PREFIX) else None
        missing_source = input_name and linked_node_missing(graph, node_id, input_name)
        for message in messages:
            if missing_source:
                found.append(
                    {
                        "type": "exception_during_validation",
                        "message": "Exception when validating node",
                        "details": repr(missing_source),
                        "extra_info": {"exception_type": "KeyError", "traceback": []},
                    }
                )
            elif input_name and message == REQUIRED:
                found.append(
                    {
                        "type": "required_input_missing",
                        "message": "Required input is missing",
                        "details": input_name,
                        "extra_info": {"input_name": input_name},
                    }
                )
            elif input_name:
                found.append(
                    {
                        "type": "invalid_input",
                        "message": message,
                        "details": f"{input_name}: {message}",
                        "extra_info": {"input_name": input_name},
                    }
                )
            else:
                found.append(
                    {"type": "invalid_node", "message": message, "details": path, "extra_info": {}}
                )
    return found


def linked_node_missing(graph: Any, node_id: str, input_name: str) -> str | None:
    """The node an input links to when the prompt has no such node (ComfyUI fails looking it
    up, with a KeyError naming it)."""
    node = graph.get(node_id) if isinstance(graph, dict) else None
    inputs = node.get("inputs") if isinstance(node, dict) else None
    value = inputs.get(input_name) if isinstance(inputs, dict) else None
    if isinstance(value, list) and len(value) == 2 and str(value[0]) not in graph:
        return str(value[0])
    return None


def class_type(graph: Any, node_id: Any) -> str | None:
    node = graph.get(str(node_id)) if isinstance(graph, dict) else None
    found = node.get("class_type") if isinstance(node, dict) else None
    return found if isinstance(found, str) else None
