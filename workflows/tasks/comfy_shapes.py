"""A task as ComfyUI's own API shows a prompt: its number and queue entry, its `/history` entry,
and the websocket messages that end it.

Ids are the router's: a task's id is the prompt_id its client sees, whatever ids its node used.
Output files are named the way the router's `/view` serves them: `filename` is the stored
output's name and `subfolder` the task's id (`workflows.comfyui_api.files`).
"""

from __future__ import annotations

import json
from typing import Any

from workflows.comfyui.tracker import OUTPUT_KINDS
from workflows.graphs.object_info import object_info
from workflows.models import Task

END_MESSAGES = ("execution_success", "execution_error", "execution_interrupted")


def milliseconds(moment: Any) -> int:
    return int(moment.timestamp() * 1000)


def prompt_number(task: Task) -> int:
    """ComfyUI's `number`: the order prompts were queued in. The submission time in ms orders
    them the same way across every router process, with nothing shared to count."""
    return milliseconds(task.created_at)


def posted_graph(task: Task) -> dict[str, Any]:
    """The graph as the client posted it (URLs and all), or as built from its parameters."""
    if task.type == Task.Type.COMFYUI and isinstance(task.params.get("prompt"), dict):
        return task.params["prompt"]
    return task.graph


def outputs_to_execute(graph: dict[str, Any]) -> list[str]:
    info = object_info()
    return [
        node_id
        for node_id, node in graph.items()
        if isinstance(node, dict) and info.get(node.get("class_type"), {}).get("output_node")
    ]


def queue_entry(task: Task) -> list[Any]:
    """`[number, prompt_id, prompt, extra_data, outputs_to_execute]`, as in `/queue` and in a
    `/history` entry's `prompt`."""
    graph = posted_graph(task)
    extra_data = {k: v for k, v in (task.extra_data or {}).items() if k != "client_id"}
    if task.comfy_client_id:  # ComfyUI leaves it out of a prompt posted without one
        extra_data["client_id"] = task.comfy_client_id
    extra_data["create_time"] = milliseconds(task.created_at)
    return [prompt_number(task), str(task.id), graph, extra_data, outputs_to_execute(graph)]


def end_message(task: Task) -> list[Any]:
    """The `[type, data]` that ended a finished task's prompt: the node's own when it agrees
    with how the task ended, else one made from the task (an error the router found, a task
    cancelled before it ran, a timeout)."""
    wanted = {
        Task.Status.DONE: "execution_success",
        Task.Status.ERROR: "execution_error",
        Task.Status.CANCELLED: "execution_interrupted",
    }[task.status]
    recorded = [m for m in (task.comfy_history or {}).get("messages", []) if m[0] in END_MESSAGES]
    if recorded and recorded[-1][0] == wanted:
        return recorded[-1]
    data: dict[str, Any] = {"prompt_id": str(task.id)}
    error = task.error or {}
    if wanted == "execution_error":
        data.update(
            node_id=error.get("node_id"),
            node_type=error.get("node_type"),
            executed=[],
            exception_message=error.get("message") or "The task failed.",
            exception_type=error.get("exception_type") or "comfy_router.TaskError",
            traceback=[],
            current_inputs={},
            current_outputs=[],
        )
    elif wanted == "execution_interrupted":
        data.update(node_id=error.get("node_id"), node_type=error.get("node_type"), executed=[])
    data["timestamp"] = milliseconds(task.finished_at or task.created_at)
    return [wanted, data]


def history_entry(task: Task) -> dict[str, Any]:
    """A finished task as `GET /history/{prompt_id}` shows it."""
    recorded = task.comfy_history or {}
    messages = [m for m in recorded.get("messages", []) if m[0] not in END_MESSAGES]
    messages.append(end_message(task))
    done = task.status == Task.Status.DONE
    return {
        "prompt": queue_entry(task),
        "outputs": recorded.get("outputs", {}) if done else {},
        "status": {
            "status_str": "success" if done else "error",
            "completed": done,
            "messages": messages,
        },
        "meta": recorded.get("meta", {}) if done else {},
    }


def has_files(output: dict[str, Any]) -> bool:
    return any(isinstance(output.get(kind), list) and output[kind] for kind in OUTPUT_KINDS)


def status_message(queue_remaining: int, sid: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"status": {"exec_info": {"queue_remaining": queue_remaining}}}
    if sid is not None:
        data["sid"] = sid
    return {"type": "status", "data": data}


def closing_texts(task: Task, queue_remaining: int) -> list[str]:
    """What a ComfyUI websocket client hears once the task has ended, as the frames' JSON, in
    ComfyUI's order: `executed` of each node that made files (held back until the router stored
    them, so the names it gives are ones `/view` serves), the prompt's last `progress_state` if
    it came after them, the end message, `status`, and the end marker."""
    prompt_id = str(task.id)
    messages: list[dict[str, Any]] = []
    if task.status == Task.Status.DONE:
        meta = (task.comfy_history or {}).get("meta", {})
        for node_id, output in (task.comfy_history or {}).get("outputs", {}).items():
            if has_files(output):
                display = meta.get(node_id, {}).get("display_node", node_id)
                messages.append(
                    {
                        "type": "executed",
                        "data": {
                            "node": node_id,
                            "display_node": display,
                            "output": output,
                            "prompt_id": prompt_id,
                        },
                    }
                )
    held = (task.comfy_history or {}).get("progress_state")
    if isinstance(held, dict):  # see `workflows.execution.comfy_relay`
        messages.append({"type": "progress_state", "data": held})
    kind, data = end_message(task)
    messages.append({"type": kind, "data": data})
    messages.append(status_message(queue_remaining))
    messages.append({"type": "executing", "data": {"node": None, "prompt_id": prompt_id}})
    return [json.dumps(message) for message in messages]
