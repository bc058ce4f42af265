"""The dispatcher: moves waiting tasks forward, oldest first.

One pass (`dispatch_once`) runs on every wake-up (submit, node idle or added, download
finished; nudges during a pass make one more pass, not one each) and at least once a second.
The once-a-second sweep also does what cannot be urgent: tasks whose owner died (lease ran out)
are taken over, running ones going back to an executor that settles them with the node and
downloading ones back to the queue; finished tasks beyond HISTORY_LIMIT are deleted. Then:
1. pending tasks with files to fetch start downloading, before any node is claimed;
2. ready tasks get idle nodes, paired by `workflows.scheduling.affinity`: the node is claimed with a
   conditional UPDATE (idle → busy), then the task (pending → running) (`workflows.scheduling.assignment`),
   and the run starts: here, with the node's idle websocket if it has one, in the embedded
   router; through an "execute" message to whichever worker takes it when scaled out.
A run that ends does step 2 itself, in its ending's transaction (see `workflows.tasks.endings`).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.utils import timezone

from comfy_router.background import spawn
from comfy_router.wakeups import DISPATCH_CHANNEL, dispatch_wakeup, local_dispatcher
from workflows.execution.idle_websockets import idle_websockets
from workflows.execution.run import (
    EXECUTE_CHANNEL,
    executors_are_here,
    hand_overs,
    start_with_idle_websocket,
)
from workflows.models import Task
from workflows.scheduling.assignment import assign_nodes
from workflows.tasks import leases, live, services
from workflows.tasks.endings import finalize
from workflows.tasks.services import TaskError

logger = logging.getLogger(__name__)

SWEEP_INTERVAL = 1.0
DOWNLOADS_PER_PASS = 50


async def run(stop: asyncio.Event) -> None:
    """Background service: dispatch on every wake-up and on a 1-second sweep."""
    layer = get_channel_layer()
    if not settings.ROUTER.channel_layer_url.startswith("redis"):
        # Embedded router: no other process can hold a lease, so take every task over now.
        taken = await database_sync_to_async(leases.leases_expire_all)()
        if taken:
            logger.info("Resuming %d unfinished task(s) from the previous run", taken)
    wakeup = local_dispatcher.listen()
    waits = Waits(layer, stop, wakeup)
    loop = asyncio.get_running_loop()
    next_sweep = loop.time()
    try:
        while not stop.is_set():
            sweep = loop.time() >= next_sweep
            if sweep:
                next_sweep = loop.time() + SWEEP_INTERVAL
            wakeup.clear()  # nudges from now on make one more pass
            try:
                await dispatch_once(sweep=sweep)
            except Exception:
                logger.exception("Dispatch pass failed")
            await waits.next(timeout=max(0.0, next_sweep - loop.time()))
    finally:
        local_dispatcher.stop_listening()
        await waits.close()


class Waits:
    """What ends the dispatcher's wait: stop, a nudge from this process, a wake-up message from
    another process (through the channel layer), or the sweep's time. The waiting futures live
    across passes, so a message taken from the channel is never dropped by a cancel."""

    def __init__(self, layer: Any, stop: asyncio.Event, wakeup: asyncio.Event) -> None:
        self.layer = layer
        self.stop = asyncio.ensure_future(stop.wait())
        self.wakeup = wakeup
        self.nudged: asyncio.Future[Any] | None = None
        self.received: asyncio.Future[Any] | None = None

    async def next(self, timeout: float) -> None:
        if self.nudged is None or self.nudged.done():
            self.nudged = asyncio.ensure_future(self.wakeup.wait())
        waits: set[asyncio.Future[Any]] = {self.stop, self.nudged}
        if self.layer is not None:
            if self.received is None:
                self.received = asyncio.ensure_future(self.layer.receive(DISPATCH_CHANNEL))
            waits.add(self.received)
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if self.received is not None and self.received.done():
            received, self.received = self.received, None
            if received.cancelled():
                return
            if received.exception() is not None:
                logger.warning("Channel layer receive failed: %r", received.exception())
                await asyncio.wait({self.stop}, timeout=timeout)  # not a busy loop
            elif received.result().get("downloads"):
                local_dispatcher.nudge(downloads=True)

    async def close(self) -> None:
        pending = [f for f in (self.stop, self.nudged, self.received) if f is not None]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class Pass:
    """What one dispatch pass decided in the database, for the loop to act on."""

    taken_over: list[tuple[uuid.UUID, str]]  # running tasks whose owner died: (task, new owner)
    downloads: list[tuple[uuid.UUID, str]]  # pending tasks now downloading: (task, owner)
    assigned: list[tuple[Task, str]]  # tasks given a node, as read after: (task, owner)


def plan_pass(*, sweep: bool, downloads: bool, keep_clients: dict[int, str]) -> Pass:
    """All of a pass's reads and writes, in one trip to the database thread. Leases ran out
    only in the sweep: a lease lasts many sweeps, so looking once a second is soon enough."""
    taken_over = []
    if sweep:
        taken_over = take_over_expired(Task.Status.RUNNING)
        for task_id in requeue_expired_downloads():
            logger.info("Task %s: its downloader died; queued again", task_id)
        services.task_enforce_history_limit()
    started = start_downloads() if sweep or downloads else []
    if len(started) == DOWNLOADS_PER_PASS:  # maybe more wait: the next pass looks again
        local_dispatcher.nudge(downloads=True)
    return Pass(taken_over, started, assign_nodes(keep_clients=keep_clients))


async def dispatch_once(*, sweep: bool = True) -> None:
    layer = get_channel_layer()
    downloads = local_dispatcher.take_downloads()
    here = executors_are_here()
    keep_clients = idle_websockets().client_ids() if here else {}
    decided = await database_sync_to_async(plan_pass)(
        sweep=sweep, downloads=downloads, keep_clients=keep_clients
    )
    for task_id, owner in decided.taken_over:
        await send_execute(layer, task_id, owner, fresh=False)
    for task_id, owner in decided.downloads:
        spawn(prepare(task_id, owner), name=f"prepare-{task_id}")
    for task, owner in decided.assigned:
        if here:
            await start_with_idle_websocket(task, owner)
        else:  # for whichever executor gets the message; this process's need not read again
            hand_overs.put(task, owner)
            await send_execute(layer, task.pk, owner, fresh=True)


async def send_execute(layer: Any, task_id: uuid.UUID, owner: str, *, fresh: bool) -> None:
    """Hands the task, and the lease this dispatcher holds on it, to whichever executor receives
    the message. `fresh`: nobody sent its prompt yet, so the node need not be asked first."""
    message = {
        "type": "task.execute",
        "task_id": str(task_id),
        "lease_owner": owner,
        "fresh": fresh,
    }
    await layer.send(EXECUTE_CHANNEL, message)


def take_over_expired(status: str) -> list[tuple[uuid.UUID, str]]:
    taken = []
    for task_id in leases.expired_task_ids(status):
        owner = leases.lease_take(task_id=task_id, status=status, expired_only=True)
        if owner is not None:
            taken.append((task_id, owner))
    return taken


def requeue_expired_downloads() -> list[uuid.UUID]:
    requeued = []
    for task_id in leases.expired_task_ids(Task.Status.DOWNLOADING):
        if Task.objects.filter(pk=task_id, status=Task.Status.DOWNLOADING).filter(
            lease_expires_at__lt=timezone.now()
        ).update(status=Task.Status.PENDING, lease_owner="", lease_expires_at=None):
            requeued.append(task_id)
    return requeued


def start_downloads() -> list[tuple[uuid.UUID, str]]:
    waiting = Task.objects.filter(status=Task.Status.PENDING, files_ready=False).order_by(
        "created_at"
    )
    started = []
    for task_id in waiting.values_list("id", flat=True)[:DOWNLOADS_PER_PASS]:
        owner = leases.new_owner()
        claimed = Task.objects.filter(pk=task_id, status=Task.Status.PENDING).update(
            status=Task.Status.DOWNLOADING,
            lease_owner=owner,
            lease_expires_at=leases.lease_deadline(),
        )
        if claimed:
            started.append((task_id, owner))
    return started


async def prepare(task_id: uuid.UUID, owner: str) -> None:
    """Fetches the task's files into the cache; the task then waits for a node. A downloader too
    slow to renew its lease may find the task queued again and downloading elsewhere: it then
    leaves the task (and its cache pins) to that run."""
    from downloads.services import DownloadError, cache_prepare_task
    from workflows.graphs.builders.base import FileToFetch

    task = await Task.objects.aget(pk=task_id)
    files = [FileToFetch(**spec) for spec in task.files]

    async def renew() -> None:
        await database_sync_to_async(leases.lease_renew)(task_id=task_id, owner=owner)

    await live.publish(task_id, {"type": "status", "status": "downloading"})
    try:
        await cache_prepare_task(task_id=task_id, files=files, on_progress=renew)
    except DownloadError as failure:
        await finalize(
            task_id,
            Task.Status.ERROR,
            TaskError(f"Download failed: {failure}"),
            from_statuses=(Task.Status.DOWNLOADING,),
            owner=owner,
        )
        return
    except Exception:
        logger.exception("Task %s: preparing its files failed", task_id)
        await finalize(
            task_id,
            Task.Status.ERROR,
            TaskError("Preparing the task's files failed inside the router; see its log."),
            from_statuses=(Task.Status.DOWNLOADING,),
            owner=owner,
        )
        return
    ready = await Task.objects.filter(
        pk=task_id, status=Task.Status.DOWNLOADING, lease_owner=owner
    ).aupdate(status=Task.Status.PENDING, files_ready=True, lease_owner="", lease_expires_at=None)
    if ready:
        await live.publish(task_id, {"type": "status", "status": "pending"})
        await dispatch_wakeup()
    elif not await Task.objects.filter(pk=task_id, status__in=Task.UNFINISHED).aexists():
        from downloads.services import cache_release_task

        await database_sync_to_async(cache_release_task)(task_id=task_id)
