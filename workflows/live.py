"""Live updates: executors publish task events to a channel-layer group per task, and
`WS /ws/workflow/{id}` relays them to clients, whichever process they are connected to.

Events sent to clients (JSON): `{"type": "status", "status", "node"}`, `{"type": "progress",
"progress"}`, `{"type": "preview", "preview": <data URL>}`, and one final
`{"type": "finished", "status", "task": <the task as GET /workflow/{id} shows it>}`.
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

from workflows.models import Task

logger = logging.getLogger(__name__)


# ComfyUI's previews are at most 512 px (tens of KB); a node that sends a far bigger one would put
# megabytes through Redis per step for every watcher. Such a preview is stored (GET shows it) but
# not broadcast.
MAX_LIVE_PREVIEW_CHARS = 1024 * 1024


def group_name(task_id: uuid.UUID | str) -> str:
    return f"task-{uuid.UUID(str(task_id)).hex}"


async def publish(task_id: uuid.UUID | str, event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if event.get("type") == "preview" and len(event.get("preview", "")) > MAX_LIVE_PREVIEW_CHARS:
        logger.debug("Task %s: preview too large to broadcast", task_id)
        return
    try:
        await layer.group_send(group_name(task_id), {"type": "task.event", "event": event})
    except Exception:  # live updates are best effort; the task itself must go on
        logger.warning("Could not publish %s for task %s", event.get("type"), task_id, exc_info=True)


def final_event(task: Task) -> dict[str, Any]:
    from workflows.selectors import task_detail

    detail = json.loads(json.dumps(task_detail(task), cls=DjangoJSONEncoder))
    return {"type": "finished", "status": task.status, "task": detail}


async def publish_final(task: Task) -> None:
    event = await database_sync_to_async(final_event)(task)
    await publish(task.id, event)


def publish_final_sync(task: Task) -> None:
    async_to_sync(publish)(task.id, final_event(task))


class TaskWatchConsumer(AsyncJsonWebsocketConsumer):
    """Sends the task's current state on connect, then every event until the final one."""

    async def connect(self) -> None:
        try:
            self.task_id = uuid.UUID(self.scope["url_route"]["kwargs"]["task_id"])
        except ValueError:
            await self.close(code=4404)
            return
        self.group = group_name(self.task_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await database_sync_to_async(self._snapshot)()
        if snapshot is None:
            await self.close(code=4404)
            return
        await self.accept()
        await self.send_json(snapshot)
        if snapshot["type"] == "finished":
            await self.close()

    def _snapshot(self) -> dict[str, Any] | None:
        task = Task.objects.select_related("node").filter(pk=self.task_id).first()
        if task is None:
            return None
        if task.is_finished:
            return final_event(task)
        return {
            "type": "status",
            "status": task.status,
            "node": task.node.url if task.node else None,
            "progress": task.progress,
        }

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients only listen; anything they send is ignored."""

    async def task_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        await self.send_json(event)
        if event["type"] == "finished":
            await self.close()
