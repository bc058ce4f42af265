"""Live updates: executors publish task events to a channel-layer group per task, and
`WS /ws/workflow/{id}` relays them to clients, whichever process they are connected to.

Events sent to clients (JSON): `{"type": "status", "status", "node"}`, `{"type": "progress",
"progress"}`, `{"type": "preview", "preview": <data URL>}`, and one final
`{"type": "finished", "status", "task": <the task as GET /workflow/{id} shows it>}`.
"""

from __future__ import annotations

import asyncio
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
FINAL_CHECK_INTERVAL = 3.0


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


def publish_final_sync(task: Task) -> None:
    async_to_sync(publish)(task.id, final_event(task))


class TaskWatchConsumer(AsyncJsonWebsocketConsumer):
    """Sends the task's current state on connect, then every event until the final one; ignores
    whatever the client sends.

    Pushed events are best effort (a worker may die between ending a task and announcing it), so
    the consumer also reads the task every FINAL_CHECK_INTERVAL seconds and sends the final event
    itself once the database says the task ended."""

    final_sent = False
    checker: asyncio.Task[None] | None = None

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
        if snapshot["type"] == "finished":
            await self._send_final(snapshot)
            return
        await self.send_json(snapshot)
        self.checker = asyncio.ensure_future(self._check_for_end())

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

    def _final_if_ended(self) -> dict[str, Any] | None:
        task = Task.objects.select_related("node").filter(pk=self.task_id).first()
        return final_event(task) if task is not None and task.is_finished else None

    async def _check_for_end(self) -> None:
        while not self.final_sent:
            await asyncio.sleep(FINAL_CHECK_INTERVAL)
            final = await database_sync_to_async(self._final_if_ended)()
            if final is not None:
                await self._send_final(final)

    async def _send_final(self, event: dict[str, Any]) -> None:
        if self.final_sent:
            return
        self.final_sent = True
        await self.send_json(event)
        await self.close()

    async def disconnect(self, code: int) -> None:
        if self.checker is not None and self.checker is not asyncio.current_task():
            self.checker.cancel()
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        """Clients only listen; anything they send is ignored, unread (decoding it as JSON, as
        the base class does, failed on other text and on binary frames and closed the socket)."""

    async def task_event(self, message: dict[str, Any]) -> None:
        event = message["event"]
        if self.final_sent:
            return
        if event["type"] == "finished":
            await self._send_final(event)
        else:
            await self.send_json(event)
