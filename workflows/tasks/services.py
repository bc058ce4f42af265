"""Writes on tasks: submit, cancel, finish, and the history limit."""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from comfy_router.counters import counter_add
from comfy_router.prepared import Count, Insert, Update
from comfy_router.wakeups import dispatch_wakeup_sync
from downloads.services import cache_release_task
from downloads.storage import write_inline_file
from nodes.selectors import node_any_idle
from workflows.api.params import ValidatedSubmission
from workflows.models import Task
from workflows.tasks import metrics

logger = logging.getLogger(__name__)

# Any constant works: it only has to be the same in every process that submits.
SUBMIT_LOCK_KEY = 0x0C0F_F1E5


# Every submission runs these two: prepared (see comfy_router.prepared).
_WAITING = Count(Task, lambda: Task.objects.filter(status__in=Task.WAITING))
_INSERT = Insert(Task)


class QueueFull(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} tasks are already waiting; try again later.")
        self.limit = limit


class TaskNotCancellable(Exception):
    pass


def _lock_submissions() -> None:
    """Serialises the count-then-insert of task_submit. SQLite's IMMEDIATE transactions already
    take the write lock at BEGIN; PostgreSQL needs an explicit lock."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SUBMIT_LOCK_KEY])


def _params_to_store(params: dict[str, Any]) -> dict[str, Any]:
    """The params as posted, but base64 image bodies (already written to input/) left out."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("type") == "base64" and isinstance(value.get("content"), str):
                return {"type": "base64", "content": f"<{len(value['content'])} base64 characters>"}
            return {key: strip(item) for key, item in value.items()}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(params)


def task_submit(*, submission: ValidatedSubmission) -> Task:
    build = submission.build
    for inline in build.inline_files:  # base64 images go to input/ now; the task keeps no copy
        write_inline_file(settings.ROUTER.root_dir, inline.folder, inline.name, inline.data)
    limit = settings.ROUTER.pending_limit
    task = Task(
        type=submission.type,
        params=_params_to_store(submission.params),
        graph=build.graph,
        sampler_node=build.sampler_node or "",
        output_node=build.output_node or "",
        files=[{"url": f.url, "folder": f.folder, "name": f.name} for f in build.files],
        files_ready=not build.files,
        main_model=build.main_model or "",
        loras=list(build.loras),
        seed="" if build.seed is None else str(build.seed),
        client_id=uuid.uuid4().hex,
        prompt_id=str(uuid.uuid4()),
        webhook_url=submission.webhook_url or "",
    )
    # Made before the transaction: submissions take turns on the database's write lock, and
    # hold it only for the count and the write.
    row = _INSERT.row(task)
    with transaction.atomic():
        _lock_submissions()
        if _WAITING() >= limit:
            raise QueueFull(limit)
        _INSERT(task, row)
    return task


def task_announce(task: Task) -> None:
    """Nudges the dispatcher about a task just submitted, if a pass has something to do for it:
    files to fetch, or an idle node to give it. While every node is busy there is nothing to do,
    and a pass per submission would cost more than the submission: the next node let go takes
    the oldest ready task in the transaction that ends its run (see `workflows.tasks.endings`), and a
    run that leaves its node idle nudges the dispatcher. Asked after the task's commit, so a
    node let go meanwhile is seen idle here, or its ending (or that nudge's pass) sees the task."""
    if not task.files_ready:
        dispatch_wakeup_sync(downloads=True)
        return
    try:
        idle = node_any_idle()
    except DatabaseError:  # the task is stored: a pass finds out, rather than a 500 now
        logger.warning("Could not tell whether a node is idle; nudging anyway", exc_info=True)
        idle = True
    if idle:
        dispatch_wakeup_sync()


def task_request_cancel(*, task_id: uuid.UUID) -> Task:
    """Cancels a waiting task at once; asks the executor of a running one to interrupt it."""
    now = timezone.now()
    dequeued = Task.objects.filter(pk=task_id, status__in=Task.WAITING).update(
        status=Task.Status.CANCELLED,
        cancel_requested=True,
        finished_at=now,
        error={"message": "Cancelled before it ran."},
    )
    if dequeued:
        counter_add("tasks_finished", labels=f"status={Task.Status.CANCELLED}")
    else:
        marked = Task.objects.filter(pk=task_id, status=Task.Status.RUNNING).update(
            cancel_requested=True
        )
        if not marked:
            task = Task.objects.get(pk=task_id)
            raise TaskNotCancellable(f"The task is already {task.status}.")
    task = Task.objects.get(pk=task_id)
    if dequeued and task.files:
        cache_release_task(task_id=task_id)  # its files may be evicted now
    return task


def outputs_dir(task_id: uuid.UUID) -> Path:
    return settings.ROUTER.data_dir / "outputs" / str(task_id)


def task_enforce_history_limit() -> int:
    """Deletes the oldest finished tasks beyond HISTORY_LIMIT, with their output files."""
    keep = settings.ROUTER.history_limit
    old_ids = list(
        Task.objects.filter(status__in=Task.FINISHED)
        .order_by("-finished_at", "-created_at")
        .values_list("id", flat=True)[keep:]
    )
    if not old_ids:
        return 0
    Task.objects.filter(pk__in=old_ids, status__in=Task.FINISHED).delete()
    for task_id in old_ids:
        shutil.rmtree(outputs_dir(task_id), ignore_errors=True)
    return len(old_ids)


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


_FINISH_RUN = Update(
    Task,
    lambda task_id, owner, status, finished_at, error, outputs, progress: (
        Task.objects.filter(pk=task_id, status=Task.Status.RUNNING, lease_owner=owner),
        {
            "status": status,
            "finished_at": finished_at,
            "lease_owner": "",
            "lease_expires_at": None,
            "preview": None,
            "error": error,
            "outputs": outputs,
            "progress": progress,
        },
    ),
    task_id="pk",
    owner="lease_owner",
    status="status",
    finished_at="finished_at",
    error="error",
    outputs="outputs",
    progress="progress",
)


def task_finish(
    *,
    task_id: uuid.UUID,
    status: str,
    error: TaskError | None = None,
    outputs: list[dict[str, Any]] | None = None,
    progress: float | None = None,
    from_statuses: tuple[str, ...] = (Task.Status.RUNNING,),
    owner: str | None = None,
    task: Task | None = None,
) -> Task | None:
    """Ends a task once: returns it, or None when it had already left `from_statuses` (or, given
    `owner`, when that lease holder lost the task to another run). `progress` is the last one
    seen, for a task that did not end done (done is 1).

    `task`, the task as its owner read it, is brought up to date and returned instead of being
    read again: while the owner's lease holds, the fields it shows change only here."""
    changes: dict[str, Any] = {
        "status": status,
        "finished_at": timezone.now(),
        "lease_owner": "",
        "lease_expires_at": None,
        "preview": None,
        "error": error.as_json() if error is not None else None,
        "outputs": outputs or [],
    }
    if status == Task.Status.DONE:
        changes["progress"] = 1.0
    elif progress is not None:
        changes["progress"] = progress
    if owner is not None and from_statuses == (Task.Status.RUNNING,) and "progress" in changes:
        # How a run ends, once per task: the statement is prepared (see comfy_router.prepared).
        ended = _FINISH_RUN(
            task_id=task_id,
            owner=owner,
            status=status,
            finished_at=changes["finished_at"],
            error=changes["error"],
            outputs=changes["outputs"],
            progress=changes["progress"],
        )
    else:
        tasks = Task.objects.filter(pk=task_id, status__in=from_statuses)
        if owner is not None:
            tasks = tasks.filter(lease_owner=owner)
        ended = tasks.update(**changes)
    if not ended:
        return None
    if task is not None and owner is not None:
        finished = task
        for name, value in changes.items():
            setattr(finished, name, value)
    else:
        finished = Task.objects.select_related("node").defer("graph", "preview").get(pk=task_id)
    metrics.task_finished(finished)
    return finished


def task_requeue(*, task_id: uuid.UUID, owner: str | None = None) -> bool:
    """Puts a running task whose prompt never started back in the queue, for another node."""
    tasks = Task.objects.filter(pk=task_id, status=Task.Status.RUNNING)
    if owner is not None:
        tasks = tasks.filter(lease_owner=owner)
    return bool(
        tasks.update(
            status=Task.Status.PENDING,
            node=None,
            prompt_started=False,
            prompt_id=str(uuid.uuid4()),
            client_id=uuid.uuid4().hex,
            progress=0.0,
            preview=None,
            started_at=None,
            lease_owner="",
            lease_expires_at=None,
        )
    )
