"""The dispatcher: moves waiting tasks forward, oldest first.

One pass (`dispatch_once`) runs on every wake-up (a submission, a node let go or back, a
download finished; nudges during a pass make one more pass, not one each) and at least once a
second. The once-a-second sweep also does what cannot be urgent: tasks whose owner died (lease
ran out) are taken over, running ones going back to a run that settles them with the node and
downloading ones back to the queue; nodes held by no unfinished task are let go; finished tasks
beyond HISTORY_LIMIT are deleted. Then:
1. pending tasks with files to fetch start downloading (`workflows.dispatch.downloads`), before
   any node is claimed;
2. ready tasks get idle nodes (`workflows.scheduling.assignment`), and their runs start
   (`workflows.execution.start`).
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
from django.db import transaction
from django.db.models import Count, F, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from comfy_router.background import spawn
from comfy_router.owners import new_owner
from comfy_router.wakeups import DISPATCH_CHANNEL, REFILL_GATHER, local_dispatcher
from nodes.models import RUNS_A_TASK, Node
from nodes.services import node_reconcile_held
from workflows.dispatch.downloads import prepare
from workflows.execution.idle_websockets import IdleWebsockets, idle_websockets
from workflows.execution.start import assign_offering, start_run, start_runs
from workflows.models import Task
from workflows.scheduling.assignment import Assigned, task_to_run
from workflows.tasks import idempotency, leases, services

logger = logging.getLogger(__name__)

SWEEP_INTERVAL = 1.0
DOWNLOADS_PER_PASS = 50


async def run(stop: asyncio.Event) -> None:
    """Background service: dispatch on every wake-up and on a 1-second sweep."""
    layer = get_channel_layer()
    if not settings.ROUTER.scaled_out:
        # Embedded router: no other process can hold a lease, so take every task over now.
        taken = await database_sync_to_async(leases.leases_expire_all)()
        if taken:
            logger.info("Resuming %d unfinished task(s) from the previous run", taken)
    wakeup, urgent = local_dispatcher.listen()
    waits = Waits(layer, stop, wakeup)
    loop = asyncio.get_running_loop()
    next_sweep = loop.time()
    try:
        while not stop.is_set():
            sweep = loop.time() >= next_sweep
            if sweep:
                next_sweep = loop.time() + SWEEP_INTERVAL
            wakeup.clear()  # nudges from now on make one more pass
            urgent.clear()
            try:
                await dispatch_once(sweep=sweep)
            except Exception:
                logger.exception("Dispatch pass failed")
            await waits.next(timeout=max(0.0, next_sweep - loop.time()))
            if not urgent.is_set() and not stop.is_set() and loop.time() < next_sweep:
                # Woken by refills alone (see `comfy_router.wakeups`): gather more first.
                await waits.gather(urgent, timeout=min(REFILL_GATHER, next_sweep - loop.time()))
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
            else:  # as a nudge from this process
                message = received.result()
                local_dispatcher.nudge(
                    downloads=bool(message.get("downloads")), refill=bool(message.get("refill"))
                )

    async def gather(self, urgent: asyncio.Event, timeout: float) -> None:
        """Waits `timeout`, or less: until stop or a nudge from this process that is not a
        refill (a wake-up message from another process waits for the pass after it)."""
        nudged = asyncio.ensure_future(urgent.wait())
        try:
            await asyncio.wait(
                {self.stop, nudged}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            nudged.cancel()

    async def close(self) -> None:
        pending = [f for f in (self.stop, self.nudged, self.received) if f is not None]
        for future in pending:
            future.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


@dataclass
class Pass:
    """What one dispatch pass decided in the database, for the loop to act on."""

    taken_over: list[tuple[Task, str]]  # running tasks whose owner died: (task, new lease)
    downloads: list[tuple[uuid.UUID, str]]  # pending tasks now downloading: (task, lease)
    assigned: Assigned  # tasks given a node, and queued-ahead ones asked to move


def plan_pass(*, sweep: bool, downloads: bool, websockets: IdleWebsockets | None = None) -> Pass:
    """All of a pass's reads and writes, in one trip to the database thread. Leases ran out
    only in the sweep: a lease lasts many sweeps, so looking once a second is soon enough.
    `websockets`: the idle ones to offer the tasks started (`assign_offering`)."""
    taken_over = []
    if sweep:
        taken_over = take_over_expired_runs()
        for task_id in requeue_expired_downloads():
            logger.info("Task %s: its downloader died; queued again", task_id)
        for node_id in release_abandoned_nodes():
            logger.warning("Node %s held more tasks than it has unfinished; let go", node_id)
        services.task_enforce_history_limit()
        idempotency.forget_expired()
    started = start_downloads() if sweep or downloads else []
    if len(started) == DOWNLOADS_PER_PASS:  # maybe more wait: the next pass looks again
        local_dispatcher.nudge(downloads=True)
    return Pass(taken_over, started, assign_offering(websockets))


async def dispatch_once(*, sweep: bool = True) -> None:
    downloads = local_dispatcher.take_downloads()
    websockets = None if settings.ROUTER.scaled_out else idle_websockets()
    decided = await database_sync_to_async(plan_pass)(
        sweep=sweep, downloads=downloads, websockets=websockets
    )
    for task, owner in decided.taken_over:
        await start_run(task, owner, fresh=False)
    for task_id, owner in decided.downloads:
        spawn(prepare(task_id, owner), name=f"prepare-{task_id}")
    await start_runs(decided.assigned)


def take_over_expired_runs() -> list[tuple[Task, str]]:
    """Running tasks whose run died (lease ran out), each with a new lease, for a new run."""
    taken = []
    for task_id in leases.expired_task_ids(Task.Status.RUNNING):
        owner = leases.lease_take(task_id=task_id, status=Task.Status.RUNNING, expired_only=True)
        task = task_to_run(task_id) if owner is not None else None
        if task is not None:
            taken.append((task, owner))
    return taken


def release_abandoned_nodes() -> list[int]:
    """Lets go of what nodes hold (busy, or a count of tasks) beyond their unfinished tasks: a
    task was deleted (the admin, a bulk delete) or moved off its node without a release. The
    nodes are locked first, then counted again: a claim commits with the task it was made for."""
    unfinished = Task.objects.filter(node=OuterRef("pk"), status__in=Task.UNFINISHED)
    count = unfinished.order_by().values("node").annotate(n=Count("pk")).values("n")
    held = Node.objects.filter(RUNS_A_TASK).annotate(unfinished=Coalesce(Subquery(count), 0))
    over = held.filter(Q(held__gt=F("unfinished")) | Q(unfinished=0))
    over = list(over.values_list("pk", flat=True))
    released = []
    if not over:
        return released
    with transaction.atomic():
        locked = Node.objects.filter(pk__in=over).select_for_update()
        for node_id, holds in locked.values_list("pk", "held"):
            tasks = Task.objects.filter(node_id=node_id, status__in=Task.UNFINISHED).count()
            if tasks == 0 or holds > tasks:
                node_reconcile_held(node_id=node_id, tasks=tasks)
                released.append(node_id)
    return released


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
        owner = new_owner()
        claimed = Task.objects.filter(pk=task_id, status=Task.Status.PENDING).update(
            status=Task.Status.DOWNLOADING,
            lease_owner=owner,
            lease_expires_at=leases.lease_deadline(),
        )
        if claimed:
            started.append((task_id, owner))
    return started
