"""Which of this process's runs were asked to cancel (DELETE /workflow/{id} sets the task's
`cancel_requested`, possibly in another process).

One look at the database every `interval` seconds serves every run of the event loop, instead of
one query per run: with many nodes busy, the per-run polls were a steady load on the database
thread that every task's ending waited behind.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

from channels.db import database_sync_to_async

from comfy_router.background import spawn
from comfy_router.loop_local import loop_local
from workflows.models import Task

logger = logging.getLogger(__name__)

def cancel_requested() -> list[uuid.UUID]:
    """Running tasks someone asked to cancel: usually none at all."""
    asked = Task.objects.filter(status=Task.Status.RUNNING, cancel_requested=True)
    return list(asked.values_list("pk", flat=True))


INTERVAL = 0.5  # seconds between looks


class CancelRequests:
    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._watched: dict[uuid.UUID, asyncio.Event] = {}
        self._poller: asyncio.Task[None] | None = None

    def watch(self, task_id: uuid.UUID) -> asyncio.Event:
        """An event set once the task is asked to cancel; `forget` it when the run ends."""
        event = self._watched.setdefault(task_id, asyncio.Event())
        if self._poller is None or self._poller.done():
            self._poller = spawn(self._poll(), name="cancel-requests")
        return event

    def forget(self, task_id: uuid.UUID) -> None:
        self._watched.pop(task_id, None)

    async def _poll(self) -> None:
        while self._watched:
            await asyncio.sleep(self.interval)
            try:
                asked = await database_sync_to_async(cancel_requested)()
            except Exception:
                logger.exception("Could not look for cancel requests")
                continue
            for task_id in asked:
                event = self._watched.get(task_id)
                if event is not None:
                    event.set()


cancel_requests = loop_local(CancelRequests)  # this event loop's watcher
