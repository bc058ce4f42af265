"""How a task ends: the one place that moves it to done, error or cancelled and lets go of what
it held (its node, its cache pins), then tells the client's watchers and its webhook.

`task_end` is the database side and `announce_end` the telling; `finish` does both for a task
no node runs, `workflows.execution.start.end_run` for a run. Who may end a task:
the holder of its lease (the run or the download working on it), or anyone while it waits with
nobody working on it (a cancel)."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction
from django.utils import timezone

from comfy_router.statements import equal, one_of, update_row
from downloads.services import cache_release_task
from nodes.services import node_release_claim
from workflows.models import Task
from workflows.tasks import comfy_shapes, live, metrics, webhooks
from workflows.tasks.selectors import unfinished_count

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskError:
    message: str
    node_id: str | None = None
    node_type: str | None = None
    exception_type: str | None = None
    details: Any = None

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "message": self.message,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "exception_type": self.exception_type,
        }
        if self.details is not None:
            data["details"] = self.details
        return data


@dataclass(frozen=True)
class Ended:
    task: Task  # as it ended
    node_holds_more: bool  # the node it ran on still holds a task (one queued ahead)


def task_end(
    *,
    task_id: uuid.UUID,
    status: str,
    error: TaskError | None = None,
    outputs: list[dict[str, Any]] | None = None,
    progress: float | None = None,
    owner: str | None,
    ran_on: int | None = None,
    held: Task | None = None,
    comfy_history: dict[str, Any] | None = None,
) -> Ended | None:
    """Ends the task once, in one transaction with the release of `ran_on` (the node the run
    held), and lets go of its cache pins after; returns the task as it ended, or None when it
    was not this caller's to end (already ended, or the lease `owner` was lost to another run).

    `owner`: the lease of the run or download ending it; None ends a task only while it waits
    (pending or downloading). `progress`: the last one seen, for a task that did not end done.
    `held`: the task as the holder of `owner` read it; while the lease holds, what it shows
    changes only here, so it is brought up to date rather than read again. `comfy_history`:
    what ComfyUI's `/history` shows of the prompt (`workflows.tasks.comfy_shapes`)."""
    changes: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "lease_owner": "",
        "lease_expires_at": None,
        "preview": None,
        "error": error.as_json() if error is not None else None,
        "outputs": outputs or [],
    }
    if comfy_history is not None:
        changes["comfy_history"] = comfy_history
    if status == Task.Status.DONE:
        changes["progress"] = 1.0
    elif progress is not None:
        changes["progress"] = progress
    if owner:
        endable = one_of("status", Task.UNFINISHED) & equal("lease_owner", owner)
    else:
        endable = one_of("status", Task.WAITING)
    with transaction.atomic():
        if not update_row(Task, task_id, endable, values=changes):
            return None
        if held is not None:
            finished = held
            for name, value in changes.items():
                setattr(finished, name, value)
        else:
            tasks = Task.objects.select_related("node").defer("graph", "preview")
            finished = tasks.get(pk=task_id)
        node_holds_more = ran_on is not None and node_release_claim(
            node_id=ran_on, ran_model=finished.main_model, ran_loras=finished.loras
        )
        metrics.task_finished(finished)
    if finished.files:
        cache_release_task(task_id=task_id)  # its files may be evicted now
    return Ended(finished, node_holds_more)


async def announce_end(task: Task, *, comfy_client_told: bool = False) -> None:
    """Tells the task's watchers and its webhook how it ended, and its ComfyUI-style client
    unless `comfy_client_told` (a run's ending tells it from the database thread:
    `tell_comfy_client_soon`)."""
    error = (task.error or {}).get("message")
    waited, ran = task_durations(task)
    took = f"waited {waited:.1f} s" + ("" if ran is None else f", ran {ran:.1f} s")
    logger.info(
        "Task %s ended %s (%s)%s",
        task.pk,
        task.status,
        took,
        f": {error}" if error else "",
        extra={
            "task_id": str(task.pk),
            "status": task.status,
            "waited_seconds": round(waited, 3),
            "ran_seconds": None if ran is None else round(ran, 3),
        },
    )
    if task.comfy_client_id and not comfy_client_told:
        await tell_comfy_client(task)
    await live.publish(task.pk, live.final_event(task))
    if task.webhook_url:
        webhooks.deliver_soon(task)


async def tell_comfy_client(task: Task) -> None:
    """Ends the prompt for the ComfyUI-style client that posted it, once the task's end is
    stored: a client that asks `/history` on the end marker finds it finished."""
    queue_remaining = await database_sync_to_async(unfinished_count)()
    await live.publish_comfy(
        task.comfy_client_id,
        task.submitted_by_id,
        texts=comfy_shapes.closing_texts(task, queue_remaining),
        prompt_id=str(task.pk),
    )


def tell_comfy_client_soon(task: Task, queue_remaining: int) -> None:
    """`tell_comfy_client` from the database thread, without waiting for it: handed to the
    event loop (see `live.publish_comfy_soon`)."""
    live.publish_comfy_soon(
        task.comfy_client_id,
        task.submitted_by_id,
        texts=comfy_shapes.closing_texts(task, queue_remaining),
        prompt_id=str(task.pk),
    )


def task_durations(task: Task) -> tuple[float, float | None]:
    """Seconds a finished task waited (from its submission to its node, or to its end if it
    never had one) and ran on its node (None if it never did)."""
    end = task.finished_at or timezone.now()
    if task.started_at is None:
        return (end - task.created_at).total_seconds(), None
    return (
        (task.started_at - task.created_at).total_seconds(),
        (end - task.started_at).total_seconds(),
    )


async def finish(
    task_id: uuid.UUID,
    status: str,
    error: TaskError | None = None,
    *,
    owner: str,
) -> Task | None:
    """`task_end` of a task no node runs (its download, say), then `announce_end`. A run's
    ending also lets go of its node: `workflows.execution.start.end_run`."""
    ended = await database_sync_to_async(task_end)(
        task_id=task_id, status=status, error=error, owner=owner
    )
    if ended is None:
        return None
    await announce_end(ended.task)
    return ended.task
