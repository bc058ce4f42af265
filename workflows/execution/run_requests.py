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
import contextlib
import logging
import uuid
from dataclasses import dataclass, field

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db.models import Q

from comfy_router.background import spawn
from comfy_router.loop_local import loop_local
from workflows.models import Task
from workflows.tasks import services

logger = logging.getLogger(__name__)


def requested() -> list[tuple[uuid.UUID, bool, bool]]:
    """Running tasks with a request: (id, cancel, steal); usually none at all."""
    asked = Task.objects.filter(status=Task.Status.RUNNING).filter(
        Q(cancel_requested=True) | Q(steal_requested=True)
    )
    return list(asked.values_list("pk", "cancel_requested", "steal_requested"))


INTERVAL = 0.5  # seconds between looks
CANCEL_WAIT = 2.0  # seconds a cancel asked in this process waits for the run to send it


@dataclass
class Requests:
    """One run's requests, each an event set once asked."""

    cancel: asyncio.Event = field(default_factory=asyncio.Event)
    steal: asyncio.Event = field(default_factory=asyncio.Event)
    changed: asyncio.Event = field(default_factory=asyncio.Event)  # set with either
    # Set by the run once the cancel has reached the node (the prompt taken off its queue, or
    # interrupted), or the run is over.
    cancel_sent: asyncio.Event = field(default_factory=asyncio.Event)


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
        requests = self._watched.pop(task_id, None)
        if requests is not None:
            requests.cancel_sent.set()  # nothing of the run is left on the node to stop

    def tell(
        self, task_id: uuid.UUID, *, cancel: bool = False, steal: bool = False
    ) -> Requests | None:
        """Passes on a request already stored, at once, if the run is in this process (None:
        it is not)."""
        requests = self._watched.get(task_id)
        if requests is None:
            return None
        if cancel:
            requests.cancel.set()
        if steal:
            requests.steal.set()
        requests.changed.set()
        return requests

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


def cancel(task_id: uuid.UUID) -> Task:
    """`services.task_request_cancel` for a request (the API, ComfyUI's `/queue` and
    `/interrupt`, the admin), with a running task's run told at once when it runs in this
    process: it takes the prompt off its node now, not at its next look. A prompt deleted from
    `/queue` while it waits in its node's queue must not start in the meantime, as it would not
    on one ComfyUI. Raises `services.TaskNotCancellable` for a task that has ended."""
    task = services.task_request_cancel(task_id=task_id)
    if task.status == Task.Status.RUNNING:
        async_to_sync(_tell_cancel)(task_id)
    return task


async def _tell_cancel(task_id: uuid.UUID) -> None:
    """Tells the run, if it is this process's, and waits (CANCEL_WAIT at most, for a node slow
    to answer) until the cancel has reached the node: as on one ComfyUI, a prompt deleted from
    the queue is out of it when the answer comes."""
    requests = run_requests().tell(task_id, cancel=True)
    if requests is None:
        return  # another process's run: it sees the request at its next look
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(requests.cancel_sent.wait(), CANCEL_WAIT)
