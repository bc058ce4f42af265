"""The one way a run starts (`start_run`), for a task whose lease the caller holds.

In the embedded router the run starts here, on this event loop, with the node's idle websocket
if its last run left one. Scaled out, it goes to whichever worker takes the channel layer's
"execute" message (`ExecutorConsumer`); that worker takes the lease over from the sender, so a
message delivered twice (channels-redis puts back what a receiver took but was cancelled before
acknowledging) or late (after the lease ran out and another run took the task) starts nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from comfy_router.background import spawn
from workflows.execution.idle_websockets import idle_websockets
from workflows.execution.run import run_task
from workflows.models import Task
from workflows.scheduling.assignment import task_to_run
from workflows.tasks import leases

EXECUTE_CHANNEL = "comfy-router-execute"


async def start_run(task: Task, owner: str, *, fresh: bool) -> None:
    """Runs `task` (as read with `task_to_run`) under the lease `owner`. `fresh`: the task was
    just given its node, so no prompt of it can be there yet; otherwise the run asks the node
    first (a task taken over from a run that died)."""
    if settings.ROUTER.scaled_out:
        message = {
            "type": "task.execute",
            "task_id": str(task.pk),
            "lease_owner": owner,
            "fresh": fresh,
        }
        await get_channel_layer().send(EXECUTE_CHANNEL, message)
        return
    node = task.node
    assert node is not None
    websocket = await idle_websockets().take(node.pk, node.url, task.client_id) if fresh else None
    spawn(run_task(task, owner, fresh=fresh, websocket=websocket), name=f"execute-{task.pk}")


def take_over(*, task_id: uuid.UUID, from_owner: str) -> tuple[Task, str] | None:
    """The running task with its node, and a lease of our own on it, taken from `from_owner`
    (who sent the message) or because the lease ran out; None when it is not ours to run."""
    task = task_to_run(task_id)
    if task is None:
        return None
    owner = leases.lease_take(
        task_id=task_id, status=Task.Status.RUNNING, expired_only=True, from_owner=from_owner
    )
    return None if owner is None else (task, owner)


class ExecutorConsumer(AsyncConsumer):
    """Consumer of EXECUTE_CHANNEL in `worker` processes (scale-out)."""

    async def task_execute(self, message: dict[str, Any]) -> None:
        task_id = uuid.UUID(message["task_id"])
        spawn(
            self.execute(task_id, message["lease_owner"], fresh=bool(message.get("fresh"))),
            name=f"execute-{task_id}",
        )

    async def execute(self, task_id: uuid.UUID, from_owner: str, *, fresh: bool) -> None:
        taken = await database_sync_to_async(take_over)(task_id=task_id, from_owner=from_owner)
        if taken is not None:
            task, owner = taken
            await run_task(task, owner, fresh=fresh)
