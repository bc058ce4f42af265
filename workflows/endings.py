"""How a task ends: the one place that moves it to done, error or cancelled and lets go of
what it held (node, cache pins), then tells watchers and the webhook."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async

from comfy_router.wakeups import dispatch_wakeup
from nodes.services import anode_release
from workflows import live, services, webhooks
from workflows.models import Task
from workflows.services import TaskError

logger = logging.getLogger(__name__)


async def finalize(
    task_id: uuid.UUID,
    status: str,
    error: TaskError | None = None,
    outputs: list[dict[str, Any]] | None = None,
    *,
    ran_on: int | None = None,
    task: Task | None = None,
    from_statuses: tuple[str, ...] = (Task.Status.RUNNING,),
    owner: str | None = None,
) -> None:
    """Ends the task in a definite state and lets go of everything it held, in this order:
    the task row, the node, the cache pins, old history; then tells the client and the webhook.
    With `owner`, only while that lease holds: a run that lost its task leaves the node alone,
    since it may already run the next task."""
    finished = await database_sync_to_async(services.task_finish)(
        task_id=task_id,
        status=status,
        error=error,
        outputs=outputs,
        from_statuses=from_statuses,
        owner=owner,
    )
    if ran_on is not None and (finished is not None or owner is None):
        await anode_release(
            node_id=ran_on,
            ran_model=task.main_model if task else "",
            ran_loras=list(task.loras) if task else [],
        )
    await dispatch_wakeup()
    if finished is None:
        return
    if finished.files:
        from downloads.services import cache_release_task

        await database_sync_to_async(cache_release_task)(task_id=task_id)
    await database_sync_to_async(services.task_enforce_history_limit)()
    logger.info("Task %s ended %s%s", task_id, status, f": {error.message}" if error else "")
    await live.publish_final(finished)
    if finished.webhook_url:
        await webhooks.deliver_soon(finished)
