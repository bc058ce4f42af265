"""What this process's runs are asked to do from outside: cancel (DELETE /workflow/{id} sets
the task's `cancel_requested`, possibly in another process) and give back a task queued ahead
(the dispatcher sets `steal_requested`: see `workflows.scheduling.assignment`).

One look at the database every `interval` seconds serves every run of the event loop, instead of
one query per run: with many nodes busy, the per-run polls were a steady load on the database
thread that every task's ending waited behind. A request made in this process (`tell`) reaches
its run at once.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field

from channels.db import database_sync_to_async
from django.db.models import Q

from comfy_router.background import spawn
from comfy_router.loop_local import loop_local
from workflows.models import Task

logger = logging.getLogger(__name__)


def requested() -> list[tuple[uuid.UUID, bool, bool]]:
    """Running tasks with a request: (id, cancel, steal); usually none at all."""
    asked = Task.objects.filter(status=Task.Status.RUNNING).filter(
        Q(cancel_requested=True) | Q(steal_requested=True)
    )
    return list(asked.values_list("pk", "cancel_requested", "steal_requested"))


INTERVAL = 0.5  # seconds between looks


@dataclass
class Requests:
    """One run's requests, each an event set once asked."""

    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    steal: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set with either


class RunRequests:
    def __init__(self, interval: float = INTERVAL) -> None:
        self.interval = interval
        self._watched: dict[uuid.UUID, Requests] = {}
        self._poller: asyncio.Task[None] | None = None

    def watch(self, task_id: uuid.UUID) -> Requests:
        """The task's requests; `forget` it when the run ends."""
        requests = self._watched.setdefault(task_id, Requests())
        if self._poller is None or self._poller.done():
            self._poller = spawn(self._poll(), name="run-requests")
        return requests

    def forget(self, task_id: uuid.UUID) -> None:
        self._watched.pop(task_id, None)

    def tell(self, task_id: uuid.UUID, *, cancel: bool = False, steal: bool = False) -> None:
        """Passes on a request already stored, at once, if the run is in this process."""
        requests = self._watched.get(task_id)
        if requests is None:
            return
        if cancel:
            requests.cancel.set()
        if steal:
            requests.steal.set()
        requests.changed.set()

    async def _poll(self) -> None:
        while self._watched:
            await asyncio.sleep(self.interval)
            try:
                asked = await database_sync_to_async(requested)()
            except Exception:
                logger.exception("Could not look for requests to runs")
                continue
            for task_id, cancel, steal in asked:
                self.tell(task_id, cancel=cancel, steal=steal)


run_requests = loop_local(RunRequests)  # this event loop's watcher
