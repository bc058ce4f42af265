"""`WS /ws/workflow/{id}`: the task's current state on connect, then its live events (published
by `workflows.tasks.live`) until the final one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from comfy_router.auth import Principal
from comfy_router.consumers import DirectDispatch
from workflows.api.task_events import FINAL_CHECK_INTERVAL, final_if_ended, task_snapshot
from workflows.models import Task
from workflows.tasks.live import group_name


def task_visible(task_id: uuid.UUID, principal: Principal) -> bool:
    """Whether the task exists and is the principal's."""
    return principal.visible(Task.objects.filter(pk=task_id)).exists()


class TaskWatchConsumer(DirectDispatch, AsyncJsonWebsocketConsumer):
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
        principal = self.scope["principal"]
        if not principal.is_operator and not await database_sync_to_async(task_visible)(
            self.task_id, principal
        ):
            await self.close(code=4404)  # another client's task: as if there were none
            return
        self.group = group_name(self.task_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        snapshot = await database_sync_to_async(task_snapshot)(self.task_id)
        if snapshot is None:
            await self.close(code=4404)
            return
        await self.accept()
        if snapshot["type"] == "finished":
            await self._send_final(snapshot)
            return
        await self.send_json(snapshot)
        self.checker = asyncio.ensure_future(self._check_for_end())

    async def _check_for_end(self) -> None:
        while not self.final_sent:
            await asyncio.sleep(FINAL_CHECK_INTERVAL)
            final = await database_sync_to_async(final_if_ended)(self.task_id)
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
