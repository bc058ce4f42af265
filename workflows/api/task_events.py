"""A task's events for HTTP clients that wait on it (`?wait=`, `GET /workflow/{id}/events`): its
current state, then the live events the runs publish (`workflows.tasks.live`) until the final one.

All of it runs on the event loop, holding no request thread while it waits: it listens to the
task's channel-layer group as the task websocket does, and, as pushed events are best effort,
reads the task every FINAL_CHECK_INTERVAL seconds to make the final event itself once the
database says the task ended."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, get_channel_layer

from workflows.models import Task
from workflows.tasks.live import final_event, group_name

FINAL_CHECK_INTERVAL = 3.0


def task_snapshot(task_id: uuid.UUID) -> dict[str, Any] | None:
    """The event that says where the task is now: the final one if it ended; None if no task."""
    task = Task.objects.select_related("node").filter(pk=task_id).first()
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


def final_if_ended(task_id: uuid.UUID) -> dict[str, Any] | None:
    task = Task.objects.select_related("node").filter(pk=task_id).first()
    return final_event(task) if task is not None and task.is_finished else None


# On the request's own thread (the handler's ThreadSensitiveContext), which keeps its connection.
read_snapshot = sync_to_async(task_snapshot, thread_sensitive=True)
read_final = sync_to_async(final_if_ended, thread_sensitive=True)


class Subscription:
    """The task's group on the channel layer, read one event at a time (no layer: no events)."""

    def __init__(self, layer: BaseChannelLayer | None, task_id: uuid.UUID) -> None:
        self.layer = layer
        self.group = group_name(task_id)
        self.channel: str | None = None
        self.receiving: asyncio.Future[dict[str, Any]] | None = None

    async def open(self) -> None:
        if self.layer is not None:
            self.channel = await self.layer.new_channel()
            await self.layer.group_add(self.group, self.channel)

    async def next_event(self, timeout: float) -> dict[str, Any] | None:
        """The next event published, or None if none came within `timeout` seconds. A receive
        that times out goes on for the next call rather than being cancelled halfway."""
        if self.layer is None or self.channel is None:
            await asyncio.sleep(timeout)
            return None
        if self.receiving is None:
            self.receiving = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self.receiving}, timeout=timeout)
        if not done:
            return None
        message, self.receiving = self.receiving.result(), None
        return message.get("event")

    async def close(self) -> None:
        if self.receiving is not None:
            self.receiving.cancel()
            with contextlib.suppress(BaseException):
                await self.receiving
        if self.layer is not None and self.channel is not None:
            await self.layer.group_discard(self.group, self.channel)


async def task_events(task_id: uuid.UUID) -> AsyncIterator[dict[str, Any]]:
    """The task's current state, then its events until the final one (`finished`), which ends
    them; nothing if there is no such task."""
    subscription = Subscription(get_channel_layer(), task_id)
    try:
        # Subscribed before reading, so an end between the two is not missed.
        await subscription.open()
        event = await read_snapshot(task_id)
        while event is not None:
            yield event
            if event["type"] == "finished":
                return
            event = await subscription.next_event(FINAL_CHECK_INTERVAL)
            while event is None:
                event = await read_final(task_id)
                if event is None:
                    event = await subscription.next_event(FINAL_CHECK_INTERVAL)
    finally:
        await subscription.close()


async def wait_for_end(task_id: uuid.UUID, seconds: float) -> None:
    """Returns when the task has ended or `seconds` have passed, whichever comes first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async with contextlib.aclosing(task_events(task_id)) as events:
                async for event in events:
                    if event["type"] == "finished":
                        return
