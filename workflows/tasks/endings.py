"""How a task ends: the one place that moves it to done, error or cancelled and lets go of
what it held (node, cache pins), then tells watchers and the webhook."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction

from comfy_router.wakeups import dispatch_wakeup
from nodes.services import node_release_claim
from workflows.models import Task
from workflows.scheduling.assignment import assign_nodes
from workflows.tasks import live, services, webhooks
from workflows.tasks.services import TaskError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ending:
    task: Task | None  # None: someone else ended it, or our lease on it was lost
    final_event: dict[str, Any] | None
    # With `assign_next`: the tasks given nodes then, with their leases; None when that was
    # not done (the dispatcher is nudged to do it).
    assigned: list[tuple[Task, str]] | None = None


def task_end(
    *,
    task_id: uuid.UUID,
    status: str,
    error: TaskError | None,
    outputs: list[dict[str, Any]] | None,
    progress: float | None,
    from_statuses: tuple[str, ...],
    owner: str | None,
    ran_on: int | None,
    task: Task | None,
    assign_next: bool = False,
    keep_clients: dict[int, str] | None = None,
) -> Ending:
    """The database side of `finalize`, in one transaction then the clean-up after it."""
    assigned = None
    with transaction.atomic():
        finished = services.task_finish(
            task_id=task_id,
            status=status,
            error=error,
            outputs=outputs,
            progress=progress,
            from_statuses=from_statuses,
            owner=owner,
            task=task,
        )
        # Without `owner` anyone may end the task, so the node is released in any case; with it,
        # only while the lease held: a run that lost its task leaves the node alone, since it
        # may already run the next task.
        if ran_on is not None and (finished is not None or owner is None):
            node_release_claim(
                node_id=ran_on,
                ran_model=task.main_model if task else "",
                ran_loras=list(task.loras) if task else [],
            )
        if assign_next and finished is not None:
            # What a dispatch pass would do now, in the same commit: the node just let go (or
            # an idle one, as scheduling says) takes the next task with no trip to the dispatcher.
            try:
                with transaction.atomic():  # a failure here must not undo the ending
                    assigned = assign_nodes(keep_clients=keep_clients)
            except Exception:
                logger.exception("Assigning nodes after task %s ended failed", task_id)
    if finished is None:
        return Ending(None, None)
    if finished.files:
        from downloads.services import cache_release_task

        cache_release_task(task_id=task_id)
    return Ending(finished, live.final_event(finished), assigned)


async def finalize(
    task_id: uuid.UUID,
    status: str,
    error: TaskError | None = None,
    outputs: list[dict[str, Any]] | None = None,
    *,
    progress: float | None = None,
    ran_on: int | None = None,
    task: Task | None = None,
    from_statuses: tuple[str, ...] = (Task.Status.RUNNING,),
    owner: str | None = None,
    assign_next: bool = False,
    keep_clients: dict[int, str] | None = None,
) -> list[tuple[Task, str]] | None:
    """Ends the task in a definite state and lets go of everything it held, in this order:
    the task row, the node, the cache pins; then tells the dispatcher, the client
    and the webhook. With `owner`, only while that lease holds.

    `assign_next`: also gives ready tasks their nodes in the same commit, as the dispatcher
    would (see `assign_nodes`), and returns them for the caller to run; `keep_clients` goes
    with it. None when the task was not ours to end (already ended, or our lease lost)."""
    ending = await database_sync_to_async(task_end)(
        task_id=task_id,
        status=status,
        error=error,
        outputs=outputs,
        progress=progress,
        from_statuses=from_statuses,
        owner=owner,
        ran_on=ran_on,
        task=task,
        assign_next=assign_next,
        keep_clients=keep_clients,
    )
    if ending.assigned is None or all(next_.node_id != ran_on for next_, _ in ending.assigned):
        # The node may be idle now: a submission does not nudge while none is (see
        # `services.task_announce`), so the dispatcher must hear of it from here.
        await dispatch_wakeup()
    finished = ending.task
    if finished is None or ending.final_event is None:
        return None
    logger.info("Task %s ended %s%s", task_id, status, f": {error.message}" if error else "")
    await live.publish(task_id, ending.final_event)
    if finished.webhook_url:
        await webhooks.deliver_soon(finished)
    return ending.assigned or []
