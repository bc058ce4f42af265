"""Refusals in ComfyUI's shape: `{"error": {type, message, details, extra_info}, "node_errors":
{node_id: {errors: [...], dependent_outputs, class_type}}}`, which ComfyUI clients know how to
show. The router's own checks of a graph (`workflows.graphs.comfyui_graph`, and whether any
node has what it needs) name the node and input; they are reworded here, not redone."""

from __future__ import annotations

from typing import Any

from rest_framework.response import Response

from comfy_router.errors import flatten_errors

INPUT_PREFIX = "inputs."
PROMPT_FIELD = "params.prompt."
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
    """ComfyUI's 400 for a prompt none of whose outputs passed its checks."""
    answer = comfy_error(
        400, "prompt_outputs_failed_validation", "Prompt outputs failed validation", ""
    )
    answer.data["node_errors"] = node_errors
    return answer


def validation_answer(detail: Any, graph: Any) -> Response:
    """The 400 for a prompt the router's checks refused (DRF's `detail` of the submission
    `{"type": "ComfyUI", "params": {"prompt": graph}}`)."""
    detail = nested_input_errors(detail)
    params = detail.get("params") if isinstance(detail, dict) else None
    by_node = params.get("prompt") if isinstance(params, dict) else None
    if isinstance(by_node, dict) and by_node:
        node_errors = {
            str(node_id): {
                "errors": node_problems(problems),
                "dependent_outputs": [],
                "class_type": class_type(graph, node_id),
            }
            for node_id, problems in by_node.items()
        }
        answer = comfy_error(
            400, "prompt_outputs_failed_validation", "Prompt outputs failed validation", ""
        )
        answer.data["node_errors"] = node_errors
        return answer
    flat = flatten_errors(detail)
    path, messages = next(iter(flat.items()), ("body", ["Invalid prompt."]))
    message = messages[0]
    kind = "prompt_no_outputs" if "no output node" in message else "invalid_prompt"
    return comfy_error(400, kind, message, path)


def nested_input_errors(detail: Any) -> Any:
    """The pool's check (`workflows.api.capacity`) names the inputs it refuses by dotted path,
    `params.prompt.4.inputs.ckpt_name`; nested as the graph check nests its errors, they name
    the node and input alike."""
    if not isinstance(detail, dict):
        return detail
    by_node: dict[str, dict[str, Any]] = {}
    others: dict[str, Any] = {}
    for key, messages in detail.items():
        node_id, _, field = str(key).removeprefix(PROMPT_FIELD).partition(".")
        if str(key).startswith(PROMPT_FIELD) and field.startswith(INPUT_PREFIX):
            by_node.setdefault(node_id, {})[field] = messages
        else:
            others[key] = messages
    return {**others, "params": {"prompt": by_node}} if by_node else detail


def node_problems(problems: Any) -> list[dict[str, Any]]:
    found = []
    for path, messages in flatten_errors(problems).items():
        input_name = path[len(INPUT_PREFIX) :] if path.startswith(INPUT_PREFIX) else None
        for message in messages:
            if input_name and message == REQUIRED:
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


def class_type(graph: Any, node_id: Any) -> str | None:
    node = graph.get(str(node_id)) if isinstance(graph, dict) else None
    found = node.get("class_type") if isinstance(node, dict) else None
    return found if isinstance(found, str) else None
