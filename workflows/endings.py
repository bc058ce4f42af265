"""How a task ends: the one place that moves it to done, error or cancelled and lets go of
what it held (node, cache pins), then tells watchers and the webhook."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction

from comfy_router.background import spawn
from comfy_router.loop_local import loop_local
from comfy_router.wakeups import dispatch_wakeup
from nodes.services import node_release_claim
from workflows import live, services, webhooks
from workflows.assignment import assign_nodes
from workflows.models import Task
from workflows.services import TaskError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ending:
    task: Task | None  # None: someone else ended it, or our lease on it was lost
    final_event: dict[str, Any] | None
    # With `assign_next`: the tasks given nodes then, with their leases; None when that was
    # not done (the dispatcher is nudged to do it).
    assigned: list[tuple[Task, str]] | None = None


@dataclass(frozen=True)
class EndRequest:
    """One task's ending, as `finalize` asks it of the database (see `task_end`)."""

    task_id: uuid.UUID
    status: str
    error: TaskError | None
    outputs: list[dict[str, Any]] | None
    progress: float | None
    from_statuses: tuple[str, ...]
    owner: str | None
    ran_on: int | None
    task: Task | None
    assign_next: bool = False
    keep_clients: dict[int, str] | None = None


def task_end(request: EndRequest) -> Ending:
    """The database side of `finalize`, in one transaction then the clean-up after it."""
    assigned = None
    with transaction.atomic():
        finished = _end_and_release(request)
        if request.assign_next and finished is not None:
            assigned = _assign_next(request.keep_clients, request.task_id)
    return _after_commit(request, finished, assigned)


def tasks_end(requests: list[EndRequest]) -> list[Ending | Exception]:
    """`task_end` for several tasks in one transaction, with one assignment pass for all the
    nodes they let go: when runs end together (a pool started at once ends its prompts
    together), each costs a fraction of a transaction of its own. Each assigned task goes to
    the ending of the node it was given, so that run hands over its websocket; the rest to the
    first ending that asked for assignments. Should the shared transaction fail, each ending
    is tried alone: one task's failure is its own."""
    if len(requests) == 1:
        return _each_alone(requests)
    try:
        with transaction.atomic():
            finished = [_end_and_release(request) for request in requests]
            assigned = None
            if any(r.assign_next and f is not None for r, f in zip(requests, finished)):
                keep_clients: dict[int, str] = {}
                for request in requests:
                    keep_clients.update(request.keep_clients or {})
                assigned = _assign_next(keep_clients, requests[0].task_id)
    except Exception:
        logger.warning("Ending %d tasks together failed; each alone now", len(requests), exc_info=True)
        return _each_alone(requests)
    shares: list[list[tuple[Task, str]] | None] = [
        [] if r.assign_next and f is not None else None for r, f in zip(requests, finished)
    ]
    for task, owner in assigned or []:
        mine = [i for i, r in enumerate(requests) if r.ran_on == task.node_id]
        share = next((shares[i] for i in mine if shares[i] is not None), None)
        if share is None:
            share = next(s for s in shares if s is not None)
        share.append((task, owner))
    return [
        _after_commit(request, done, share)
        for request, done, share in zip(requests, finished, shares)
    ]


def _each_alone(requests: list[EndRequest]) -> list[Ending | Exception]:
    endings: list[Ending | Exception] = []
    for request in requests:
        try:
            endings.append(task_end(request))
        except Exception as failure:
            endings.append(failure)
    return endings


def _end_and_release(request: EndRequest) -> Task | None:
    task = request.task
    finished = services.task_finish(
        task_id=request.task_id,
        status=request.status,
        error=request.error,
        outputs=request.outputs,
        progress=request.progress,
        from_statuses=request.from_statuses,
        owner=request.owner,
        task=task,
    )
    # Without `owner` anyone may end the task, so the node is released in any case; with it,
    # only while the lease held: a run that lost its task leaves the node alone, since it
    # may already run the next task.
    if request.ran_on is not None and (finished is not None or request.owner is None):
        node_release_claim(
            node_id=request.ran_on,
            ran_model=task.main_model if task else "",
            ran_loras=list(task.loras) if task else [],
        )
    return finished


def _assign_next(
    keep_clients: dict[int, str] | None, task_id: uuid.UUID
) -> list[tuple[Task, str]] | None:
    """What a dispatch pass would do now, in the same commit: the node just let go (or an idle
    one, as scheduling says) takes the next task with no trip to the dispatcher."""
    try:
        with transaction.atomic():  # a failure here must not undo the ending
            return assign_nodes(keep_clients=keep_clients)
    except Exception:
        logger.exception("Assigning nodes after task %s ended failed", task_id)
        return None


def _after_commit(
    request: EndRequest, finished: Task | None, assigned: list[tuple[Task, str]] | None
) -> Ending:
    if finished is None:
        return Ending(None, None)
    if finished.files:
        from downloads.services import cache_release_task

        cache_release_task(task_id=request.task_id)
    return Ending(finished, live.final_event(finished), assigned)


class EndingQueue:
    """Endings wait here for the database thread, and go to it together: one trip, one
    transaction for all that came while the previous trip ran (see `tasks_end`)."""

    MAX_TOGETHER = 16  # a transaction holds SQLite's write lock: keep it short for submissions

    def __init__(self) -> None:
        self.waiting: list[tuple[EndRequest, asyncio.Future[Ending]]] = []
        self.drainer: asyncio.Task[None] | None = None

    async def end(self, request: EndRequest) -> Ending:
        ending: asyncio.Future[Ending] = asyncio.get_running_loop().create_future()
        self.waiting.append((request, ending))
        if self.drainer is None or self.drainer.done():
            self.drainer = spawn(self._drain(), name="task-endings")
        return await ending

    async def _drain(self) -> None:
        while self.waiting:
            batch = self.waiting[: self.MAX_TOGETHER]
            del self.waiting[: len(batch)]
            outcomes: list[Ending | Exception]
            try:
                outcomes = await database_sync_to_async(tasks_end)([r for r, _ in batch])
            except asyncio.CancelledError:  # the process is stopping
                for _, ending in batch + self.waiting:
                    ending.cancel()
                self.waiting.clear()
                raise
            except Exception as failure:
                outcomes = [failure] * len(batch)
            for (_, ending), outcome in zip(batch, outcomes):
                if ending.done():  # its run was cancelled meanwhile
                    continue
                if isinstance(outcome, Exception):
                    ending.set_exception(outcome)
                else:
                    ending.set_result(outcome)


ending_queue = loop_local(EndingQueue)


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
    ending = await ending_queue().end(
        EndRequest(
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
    )
    if ending.assigned is None:
        await dispatch_wakeup()
    finished = ending.task
    if finished is None or ending.final_event is None:
        return None
    logger.info("Task %s ended %s%s", task_id, status, f": {error.message}" if error else "")
    await live.publish(task_id, ending.final_event)
    if finished.webhook_url:
        await webhooks.deliver_soon(finished)
    return ending.assigned or []
