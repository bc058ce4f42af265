"""Writes on tasks: submit, cancel, requeue, and the history limit. A task's end is
`workflows.tasks.endings`."""

from __future__ import annotations

import logging
import shutil
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from clients.selectors import pending_limit_for
from comfy_router.statements import count_rows, equal, one_of
from comfy_router.wakeups import dispatch_wakeup_sync
from downloads.storage import write_inline_file
from nodes.selectors import node_can_take_a_task
from nodes.services import node_release_claim
from workflows.graphs.builders import BuildResult, FileToFetch
from workflows.graphs.requirements import TaskNeeds
from workflows.models import Task
from workflows.tasks import idempotency, metrics
from workflows.tasks.endings import TaskError, announce_end, task_end
from workflows.tasks.files import outputs_dir

logger = logging.getLogger(__name__)

# Any constant works: it only has to be the same in every process that submits.
SUBMIT_LOCK_KEY = 0x0C0F_F1E5


@dataclass(frozen=True)
class Submission:
    """A checked submission: the params as posted (defaults and seed filled in) and its graph."""

    type: str
    params: dict[str, Any]
    webhook_url: str | None
    build: BuildResult
    needs: TaskNeeds = TaskNeeds()


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


def task_copy(task: Task) -> Submission:
    """A submission of what `task` ran: same type, params, graph, files, needs and webhook (the
    graph as stored, so the seed is the one it used; base64 images are in input/ already)."""
    build = BuildResult(
        graph=task.graph,
        sampler_node=task.sampler_node or None,
        output_node=task.output_node or None,
        files=tuple(
            FileToFetch(url=f["url"], folder=f["folder"], name=f["name"]) for f in task.files
        ),
        inline_files=(),
        seed=int(task.seed) if task.seed else None,
        main_model=task.main_model or None,
        loras=tuple(task.loras),
    )
    return Submission(
        type=task.type,
        params=task.params,
        webhook_url=task.webhook_url or None,
        build=build,
        needs=TaskNeeds.from_json(task.requirements),
    )


def task_submit(
    *,
    submission: Submission,
    base_url: str,
    task_id: uuid.UUID | None = None,
    comfy_client_id: str = "",
    extra_data: dict[str, Any] | None = None,
    client_id: int | None = None,
    key: idempotency.Keyed | None = None,
) -> Task:
    """Stores the task (pending), unless its submitter already has its pending limit of tasks
    waiting (QueueFull), or its idempotency `key` made a task already (KeyRepeated; KeyReused
    for another body). `base_url`: the submitting request's scheme and host, for its
    webhook's output URLs. A prompt posted through ComfyUI's own API gives its `task_id` (its
    prompt_id), the `comfy_client_id` whose websocket follows it and its `extra_data`.
    `client_id`: the submitting `clients.Client` (None: the operator), stored as the task's
    `submitted_by` (not the task's own `client_id`, the node websocket's). Each submitter's
    waiting tasks count against its own limit (a client's `pending_limit`, else PENDING_LIMIT),
    so one client's batch refuses no other's tasks."""
    build = submission.build
    for inline in build.inline_files:  # base64 images go to input/ now; the task keeps no copy
        write_inline_file(settings.ROUTER.root_dir, inline.folder, inline.name, inline.data)
    limit = pending_limit_for(client_id)
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
        requirements=submission.needs.as_json(),
        seed="" if build.seed is None else str(build.seed),
        client_id=uuid.uuid4().hex,
        prompt_id=str(uuid.uuid4()),
        webhook_url=submission.webhook_url or "",
        base_url=base_url,
        comfy_client_id=comfy_client_id,
        extra_data=extra_data or {},
        submitted_by_id=client_id,
    )
    if task_id is not None:
        task.id = task_id
    waiting = one_of("status", Task.WAITING) & equal("submitted_by_id", client_id)
    with transaction.atomic():
        _lock_submissions()
        if key is not None and (made := idempotency.task_made_for(key)) is not None:
            raise idempotency.KeyRepeated(made)
        # Every submission counts: see comfy_router.statements.
        if count_rows(Task, waiting) >= limit:
            raise QueueFull(limit)
        task.save(force_insert=True)
        if key is not None:
            idempotency.remember(key, task.id)
    files = f", {len(task.files)} file(s) to download" if task.files else ""
    logger.info(
        "Task %s submitted: %s%s",
        task.pk,
        task.type,
        files,
        extra={"task_id": str(task.pk), "task_type": task.type},
    )
    return task


def task_announce(task: Task) -> None:
    """Nudges the dispatcher about a task just submitted, if a pass has something to do for it:
    files to fetch, or a node to give it (idle, or with room in its queue). While every node is
    full there is nothing to do: the end of a run nudges the dispatcher, whose pass then sees
    the task. Asked after the task's
    commit, so a node let go meanwhile is seen idle here, or its ending's pass sees the task."""
    if not task.files_ready:
        dispatch_wakeup_sync(downloads=True)
        return
    try:
        room = node_can_take_a_task()
    except DatabaseError:  # the task is stored: a pass finds out, rather than a 500 now
        logger.warning("Could not tell whether a node has room; nudging anyway", exc_info=True)
        room = True
    if not room and settings.ROUTER.queue_ahead:
        room = another_clients_task_queued_ahead(task.submitted_by_id)
    if room:
        dispatch_wakeup_sync()


def another_clients_task_queued_ahead(client_id: int | None) -> bool:
    """Whether a task of another client waits in a node's queue: a pass may take it back for a
    task of this client that comes before it in the fair share (every node full, no pass would
    otherwise run before the next prompt ends)."""
    queued = Task.objects.filter(status=Task.Status.RUNNING, node__held__gt=1)
    if client_id is None:
        return queued.filter(submitted_by__isnull=False).exists()
    return queued.exclude(submitted_by_id=client_id).exists()


def task_request_cancel(*, task_id: uuid.UUID) -> Task:
    """Cancels a waiting task at once (its watchers and webhook are told); asks the run of a
    running one to interrupt it (see `workflows.execution.run_requests`)."""
    cancelled = task_end(
        task_id=task_id,
        status=Task.Status.CANCELLED,
        error=TaskError("Cancelled before it ran."),
        owner=None,
    )
    if cancelled is not None:
        async_to_sync(announce_end)(cancelled.task)
        return cancelled.task
    marked = Task.objects.filter(pk=task_id, status=Task.Status.RUNNING).update(
        cancel_requested=True
    )
    task = Task.objects.select_related("node").get(pk=task_id)
    if not marked:
        raise TaskNotCancellable(f"The task is already {task.status}.")
    return task


def task_requeue(
    *,
    task_id: uuid.UUID,
    owner: str,
    node_id: int | None,
    stolen: bool = False,
    refund: bool = False,
) -> bool:
    """Puts a running task back in the queue, for another node, and lets go of `node_id` (the
    node its run held) in the same transaction; False when the lease `owner` no longer holds the
    task. `stolen`: taken back from a busy node's queue for an idle node; `refund` (so does a
    steal): the attempt its start took is given back, as no fault of the node or the task
    made it go again."""
    refund_attempt = {"attempts": F("attempts") - 1} if stolen or refund else {}
    with transaction.atomic():
        requeued = Task.objects.filter(
            pk=task_id, status=Task.Status.RUNNING, lease_owner=owner
        ).update(
            **refund_attempt,
            steal_requested=False,
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
        if requeued and node_id is not None:
            node_release_claim(node_id=node_id)
        if requeued and stolen:
            metrics.task_stolen()
    return bool(requeued)


def task_enforce_history_limit() -> int:
    """Deletes, with their output files, the finished tasks past either limit: beyond the newest
    HISTORY_LIMIT (0: no count limit), or finished more than HISTORY_MAX_AGE ago (if set)."""
    finished = Task.objects.filter(status__in=Task.FINISHED)
    old_ids: set[uuid.UUID] = set()
    keep = settings.ROUTER.history_limit
    if keep:
        newest_first = finished.order_by("-finished_at", "-created_at")
        old_ids.update(newest_first.values_list("id", flat=True)[keep:])
    max_age = settings.ROUTER.history_max_age
    if max_age is not None:
        cutoff = timezone.now() - timedelta(seconds=max_age)
        old_ids.update(finished.filter(finished_at__lt=cutoff).values_list("id", flat=True))
    if not old_ids:
        return 0
    return task_delete_finished(tasks=Task.objects.filter(pk__in=old_ids))


def task_delete_finished(*, tasks: QuerySet[Task]) -> int:
    """Deletes the finished ones of `tasks` with their output files (the history's limits,
    ComfyUI's `POST /history` `delete` and `clear`); unfinished ones stay."""
    gone = list(tasks.filter(status__in=Task.FINISHED).values_list("id", flat=True))
    Task.objects.filter(pk__in=gone, status__in=Task.FINISHED).delete()
    for task_id in gone:
        shutil.rmtree(outputs_dir(task_id), ignore_errors=True)
    return len(gone)
