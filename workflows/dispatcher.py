"""The dispatcher: moves waiting tasks forward, oldest first.

One pass (`dispatch_once`), run on every wake-up (submit, node idle or added, download finished)
and at least once a second:
1. tasks whose owner died (lease ran out) are taken over: running ones go back to an executor,
   which settles them with the node; downloading ones go back to the queue;
2. pending tasks with files to fetch start downloading, before any node is claimed;
3. ready tasks get idle nodes, paired by `workflows.scheduling`: the node is claimed with a
   conditional UPDATE (idle → busy), then the task (pending → running), and an executor is told
   to run it.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db.models import F
from django.utils import timezone

from comfy_router.background import spawn
from comfy_router.wakeups import DISPATCH_CHANNEL, dispatch_wakeup
from nodes.models import Node
from workflows import leases, live, metrics, scheduling
from workflows.endings import finalize
from workflows.executor import EXECUTE_CHANNEL
from workflows.models import Task
from workflows.services import TaskError

logger = logging.getLogger(__name__)

SWEEP_INTERVAL = 1.0


async def run(stop: asyncio.Event) -> None:
    """Background service: dispatch on every wake-up and on a 1-second sweep."""
    layer = get_channel_layer()
    if not settings.ROUTER.channel_layer_url.startswith("redis"):
        # Embedded router: no other process can hold a lease, so take every task over now.
        taken = await database_sync_to_async(leases.leases_expire_all)()
        if taken:
            logger.info("Resuming %d unfinished task(s) from the previous run", taken)
    while not stop.is_set():
        try:
            await dispatch_once()
        except Exception:
            logger.exception("Dispatch pass failed")
        await wait_for_wakeup(layer, stop)


async def wait_for_wakeup(layer: Any, stop: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(stop.wait())]
    if layer is not None:
        waits.append(asyncio.ensure_future(layer.receive(DISPATCH_CHANNEL)))
    try:
        await asyncio.wait(waits, timeout=SWEEP_INTERVAL, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


async def dispatch_once() -> None:
    layer = get_channel_layer()
    for task_id, owner in await database_sync_to_async(take_over_expired)(Task.Status.RUNNING):
        await send_execute(layer, task_id, owner)
    for task_id in await database_sync_to_async(requeue_expired_downloads)():
        logger.info("Task %s: its downloader died; queued again", task_id)
    for task_id, owner in await database_sync_to_async(start_downloads)():
        spawn(prepare(task_id, owner), name=f"prepare-{task_id}")
    for task_id, owner in await database_sync_to_async(assign_nodes)():
        await live.publish(task_id, {"type": "status", "status": "running"})
        await send_execute(layer, task_id, owner)


async def send_execute(layer: Any, task_id: uuid.UUID, owner: str) -> None:
    """Hands the task, with the lease this dispatcher holds on it, to whichever executor
    receives the message."""
    message = {"type": "task.execute", "task_id": str(task_id), "lease_owner": owner}
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
    for task_id in waiting.values_list("id", flat=True)[:50]:
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
    from workflows.builders.base import FileToFetch

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


def idle_nodes() -> list[Node]:
    return list(
        Node.objects.filter(status=Node.Status.IDLE, enabled=True).order_by("idle_since", "pk")
    )


def assign_nodes() -> list[tuple[uuid.UUID, str]]:
    from nodes.services import node_claim, node_release

    assigned = []
    for choice in scheduling.choose_assignments(idle_nodes()):
        task, node = choice.task, choice.node
        if not node_claim(node_id=node.pk):
            continue  # another dispatcher took it first
        owner = leases.new_owner()
        won = Task.objects.filter(pk=task.pk, status=Task.Status.PENDING, files_ready=True).update(
            status=Task.Status.RUNNING,
            node=node,
            attempts=F("attempts") + 1,
            started_at=timezone.now(),
            lease_owner=owner,
            lease_expires_at=leases.lease_deadline(),
        )
        if won:
            assigned.append((task.pk, owner))
            metrics.task_started(task, warm=choice.warm)
        else:
            node_release(node_id=node.pk)
    return assigned
