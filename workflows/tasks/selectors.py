"""Reads on tasks, shaped as the API shows them."""

from __future__ import annotations

import base64
import hashlib
import uuid
from pathlib import Path
from typing import Any

from django.db.models import QuerySet

from comfy_router.auth import Principal
from comfy_router.statements import any_row, count_rows, one_of
from downloads.selectors import task_download_progress
from workflows.models import Task
from workflows.tasks.files import outputs_dir


def queue_position(task: Task) -> int | None:
    """1 for the next task to run; None once the task left the queue."""
    if task.status not in Task.WAITING:
        return None
    ahead = Task.objects.filter(status__in=Task.WAITING, created_at__lt=task.created_at)
    return ahead.count() + 1


# Preview types shown as a node names them; the metadata of a ComfyUI preview may name any.
PREVIEW_TYPES = frozenset({"image/jpeg", "image/png", "image/webp", "image/gif"})


def shown_preview(task: Task) -> bytes | None:
    """The latest preview's bytes as stored, while the task runs; None otherwise."""
    if task.status != Task.Status.RUNNING or not task.preview:
        return None
    return bytes(task.preview)


def preview_content_type(task: Task) -> str:
    named = task.preview_content_type or "image/jpeg"
    return named if named in PREVIEW_TYPES else "application/octet-stream"


def preview_data_url(task: Task) -> str | None:
    preview = shown_preview(task)
    if preview is None:
        return None
    return f"data:{preview_content_type(task)};base64,{base64.b64encode(preview).decode()}"


def preview_image_version(task: Task) -> str:
    """Changes whenever the preview's bytes or type do: the ETag of the preview image."""
    digest = hashlib.blake2b(preview_content_type(task).encode() + b"\0", digest_size=16)
    digest.update(shown_preview(task) or b"")
    return digest.hexdigest()


def preview_version(task: Task) -> str:
    """Changes whenever anything `task_preview` shows does: the ETag of the public preview."""
    shown = f"{task.status}\0{round(task.progress, 4)}\0{preview_image_version(task)}"
    return hashlib.blake2b(shown.encode(), digest_size=16).hexdigest()


def output_path(task: Task, index: int) -> Path | None:
    for output in task.outputs:
        if output["index"] == index:
            path = outputs_dir(task.id) / output["stored_name"]
            return path if path.is_file() else None
    return None


def task_outputs(
    task: Task, *, base_url: str = "", include_data: bool = False
) -> list[dict[str, Any]]:
    shown = []
    for output in task.outputs:
        item = {
            "index": output["index"],
            "filename": output["filename"],
            "content_type": output["content_type"],
            "size": output["size"],
            "url": f"{base_url}/workflow/{task.id}/outputs/{output['index']}",
        }
        if include_data:
            path = output_path(task, output["index"])
            item["data"] = base64.b64encode(path.read_bytes()).decode() if path else None
        shown.append(item)
    return shown


def task_downloads(task: Task) -> list[dict[str, Any]]:
    if task.status != Task.Status.DOWNLOADING:
        return []
    return task_download_progress(task_id=task.id)


# What the API shows of a task: never its graph, which may be large, nor the run's bookkeeping.
DETAIL_FIELDS = (
    "id", "type", "status", "progress", "preview", "preview_content_type", "outputs", "error",
    "node", "attempts", "seed", "params", "created_at", "started_at", "finished_at", "node__url",
    "submitted_by",
)  # fmt: skip


def task_for_detail(task_id: uuid.UUID) -> Task | None:
    """The task with the fields the API shows and its node's URL; None when there is none."""
    tasks = Task.objects.select_related("node").only(*DETAIL_FIELDS)
    return tasks.filter(pk=task_id).first()


def task_detail(task: Task, *, base_url: str = "", include_data: bool = False) -> dict[str, Any]:
    return {
        "id": str(task.id),
        "type": task.type,
        "status": task.status,
        "queue_position": queue_position(task),
        "progress": round(task.progress, 4),
        "preview": preview_data_url(task),
        "downloads": task_downloads(task),
        "outputs": task_outputs(task, base_url=base_url, include_data=include_data),
        "error": task.error,
        "node": task.node.url if task.node_id and task.node else None,
        "attempts": task.attempts,
        "seed": int(task.seed) if task.seed else None,
        "params": task.params,
        "created_at": task.created_at,
        "started_at": task.started_at,
        "finished_at": task.finished_at,
    }


def task_preview(task: Task) -> dict[str, Any]:
    """What the public preview endpoint may show: never outputs, params or errors."""
    return {
        "id": str(task.id),
        "status": task.status,
        "progress": round(task.progress, 4),
        "preview": preview_data_url(task),
    }


# What the list shows of each task, read as plain values: no model instances, no node row, and
# a simpler query to build; lists are polled, so the page is kept cheap to build and to read.
SUMMARY_FIELDS = ("id", "type", "status", "progress", "node__url", "created_at", "finished_at")


def task_summary(row: dict[str, Any]) -> dict[str, Any]:
    """One task of the list, from a row of `task_list`."""
    return {
        "id": str(row["id"]),
        "type": row["type"],
        "status": row["status"],
        "progress": round(row["progress"], 4),
        "node": row["node__url"],
        "created_at": row["created_at"],
        "finished_at": row["finished_at"],
    }


def task_list(*, status: str | None = None) -> QuerySet[Task, dict[str, Any]]:
    """The tasks, newest first, as rows of SUMMARY_FIELDS (see `task_summary`)."""
    tasks = Task.objects.all()
    if status:
        tasks = tasks.filter(status=status)
    return tasks.order_by("-created_at").values(*SUMMARY_FIELDS)


def task_output_file(task_id: uuid.UUID, stored_name: str, *, seen_by: Principal) -> Path | None:
    """The stored file of the output task `task_id` lists under `stored_name` (how ComfyUI's
    `/view` names outputs: the task's id as subfolder); None when there is no such task, output
    or file, or when the task is another client's."""
    task = Task.objects.only("id", "outputs", "submitted_by").filter(pk=task_id).first()
    if task is None or not seen_by.may_see(task.submitted_by_id):
        return None
    for output in task.outputs:
        if output.get("stored_name") == stored_name:
            path = outputs_dir(task.id) / stored_name
            return path if path.is_file() else None
    return None


# Every submission and every ending asks one of these: see comfy_router.statements.
UNFINISHED = one_of("status", Task.UNFINISHED)


def anything_unfinished() -> bool:
    """Whether some task waits or runs anywhere in the pool."""
    return any_row(Task, UNFINISHED)


def unfinished_count() -> int:
    """ComfyUI's `queue_remaining`, over the pool: the prompts still waiting or running."""
    return count_rows(Task, UNFINISHED)
