"""The one way a run starts (`start_run`), for a task whose lease the caller holds: used by the
dispatcher, and by a run's ending, which gives the node it lets go its next task itself
(`end_run`) rather than leaving it to a pass of the dispatcher.

In the embedded router the run starts here, on this event loop, with the node's idle websocket
if its last run left one. Scaled out, it goes to whichever worker takes the channel layer's
"execute" message (`ExecutorConsumer`); that worker takes the lease over from the sender, so a
message delivered twice (channels-redis puts back what a receiver took but was cancelled before
acknowledging) or late (after the lease ran out and another run took the task) starts nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings

from comfy_router.background import spawn
from comfy_router.consumers import DirectDispatch
from comfy_router.wakeups import dispatch_wakeup
from workflows.comfyui.client import EventStream
from workflows.execution.idle_websockets import IdleWebsockets, idle_websockets
from workflows.execution.run import Outcome, TaskRun
from workflows.execution.run_requests import run_requests
from workflows.models import Task
from workflows.scheduling.assignment import Assigned, assign_nodes, task_to_run
from workflows.tasks import leases, metrics
from workflows.tasks.endings import (
    Ended,
    TaskError,
    announce_end,
    task_end,
    tell_comfy_client_soon,
)
from workflows.tasks.selectors import anything_unfinished, unfinished_count

logger = logging.getLogger(__name__)

EXECUTE_CHANNEL = "comfy-router-execute"
# Seconds at most the queued-ahead prompts of a pass wait for its first ones to be sent (see
# `start_runs`): a first prompt whose node is slow to answer holds no other node's back longer.
FIRSTS_FIRST = 0.25


async def start_run(
    task: Task, owner: str, *, fresh: bool, ahead: bool = False
) -> asyncio.Event | None:
    """Runs `task` (as read with `task_to_run`) under the lease `owner`. `fresh`: the task was
    just given its node, so no prompt of it can be there yet; otherwise the run asks the node
    first (a task taken over from a run that died). `ahead`: queued behind the prompt the node
    runs. Returns what the run sets once its prompt is on the node or the run is over (None:
    the run is another worker's)."""
    logger.info(
        "Task %s assigned to node %s (%s)%s%s", task.pk, task.node_id, task.node and task.node.url,
        ", queued ahead" if ahead else "", "" if fresh else ", taken over from a run that stopped",
        extra={"task_id": str(task.pk), "node_id": task.node_id, "queued_ahead": ahead},
    )
    if settings.ROUTER.scaled_out:
        message = {
            "type": "task.execute",
            "task_id": str(task.pk),
            "lease_owner": owner,
            "fresh": fresh,
            "ahead": ahead,
        }
        await get_channel_layer().send(EXECUTE_CHANNEL, message)
        return None
    node = task.node
    assert node is not None
    websocket = await idle_websockets().take(node.pk, node.url, task.client_id) if fresh else None
    sent = asyncio.Event()
    spawn(
        run_task(task, owner, fresh=fresh, ahead=ahead, websocket=websocket, sent=sent),
        name=f"execute-{task.pk}",
    )
    return sent


async def start_runs(assigned: Assigned) -> None:
    """Starts the runs of tasks just given their nodes, and tells the runs of this process asked
    to give a task back (those elsewhere see the request at their next look).

    Prompts for idle nodes go first: those queued ahead, which a node needs only once it ends
    the prompt before them, start once every first prompt of the pass is on its node (or after
    FIRSTS_FIRST). Started together, each run's websocket handshake and POST taking turns on
    one event loop, a pool coming online with a backlog (20 nodes: 40 prompts) had its last
    idle node wait for the queued-ahead prompts of the others too."""
    firsts = [
        await start_run(task, owner, fresh=True)
        for task, owner, ahead in assigned.started
        if not ahead
    ]
    behind = [(task, owner) for task, owner, ahead in assigned.started if ahead]
    sent = [event for event in firsts if event is not None]
    if behind and sent:
        spawn(start_behind(behind, after=sent), name="start-queued-ahead")
    else:
        await start_behind(behind, after=[])
    for task_id in assigned.steals:
        run_requests().tell(task_id, steal=True)


async def start_behind(behind: list[tuple[Task, str]], *, after: list[asyncio.Event]) -> None:
    """Starts the runs of the queued-ahead tasks once every first prompt is sent (`after`), or
    FIRSTS_FIRST has passed."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(FIRSTS_FIRST):
            for event in after:
                await event.wait()
    for task, owner in behind:
        await start_run(task, owner, fresh=True, ahead=True)


async def run_task(
    task: Task,
    owner: str,
    *,
    fresh: bool,
    ahead: bool = False,
    websocket: EventStream | None = None,
    sent: asyncio.Event | None = None,
) -> None:
    """Runs the task, whose lease `owner` the caller holds, to its end. `fresh`: the task was
    just given its node, so no prompt of it can be on the node yet. `ahead`: queued behind the
    prompt the node runs. `websocket`: the node's open session under the task's client id, left
    by the node's previous run, to go on with. `sent`: set once the prompt is on the node, or
    the run is over."""
    try:
        run = TaskRun(task, owner, fresh=fresh, ahead=ahead, websocket=websocket, sent=sent)
        outcome = await run.run()
    except asyncio.CancelledError:
        # The process is shutting down: the prompt goes on on the node, and whoever runs next
        # (this router after a restart, or another worker) takes the task over.
        await database_sync_to_async(leases.lease_drop)(task_id=task.pk, owner=owner)
        raise
    except Exception:
        logger.exception("Task %s failed inside the router", task.pk)
        failure = TaskError("The router failed while running this task; see its log.")
        outcome = Outcome(Task.Status.ERROR, failure, ran_on=task.node_id)
    if outcome is not None:
        await end_run(task, owner, outcome)


async def end_run(task: Task, owner: str, outcome: Outcome) -> None:
    """Ends the task (`workflows.tasks.endings`), tells its client, and gives the node it let go
    its next task without waiting for a pass of the dispatcher.

    A node left idle is given its next task in the same trip to the database thread as the end,
    by the pass a dispatcher would make, on the pool as the end left it: a pass after it would
    find nothing more, and what comes later (a submission, files fetched) nudges the dispatcher
    itself. Only if that assignment failed is the node left to the dispatcher. A node that still
    holds its next prompt (queued ahead) is busy for a whole prompt yet: its refill goes to the
    dispatcher as a refill nudge, which gathers those of every node that ends a prompt meanwhile
    into one pass (`comfy_router.wakeups`)."""
    ran_on = outcome.ran_on
    websockets = idle_websockets() if not settings.ROUTER.scaled_out else None
    ended, assigned = await database_sync_to_async(_end_and_assign)(
        task, owner, outcome, websockets=websockets
    )
    if ended is None:
        return
    await announce_end(ended.task, comfy_client_told=True)
    if assigned is not None:
        await start_runs(assigned)
    if ran_on is None:
        return
    if ended.node_holds_more:
        await dispatch_wakeup(refill=True)
    elif assigned is None:
        await dispatch_wakeup()


def _end_and_assign(
    task: Task, owner: str, outcome: Outcome, *, websockets: IdleWebsockets | None
) -> tuple[Ended | None, Assigned | None]:
    """`task_end` for the run, then `assign_offering` (the idle `websockets`) if it left its node
    idle (None: that failed). A ComfyUI-style client is told of the end in between, as soon as
    it is stored: such a client waits for its end marker before it posts its next prompt."""
    ended = task_end(
        task_id=task.pk,
        status=outcome.status,
        error=outcome.error,
        outputs=outcome.outputs,
        progress=outcome.progress,
        owner=owner,
        ran_on=outcome.ran_on,
        comfy_history=outcome.history,
        held=task,
    )
    if ended is None:
        return None, Assigned()
    if outcome.node_idle is not None:
        metrics.node_idle_gap(outcome.node_idle)
    unfinished = None
    if ended.task.comfy_client_id:
        unfinished = unfinished_count()
        tell_comfy_client_soon(ended.task, unfinished)
    if outcome.ran_on is None or ended.node_holds_more:
        return ended, Assigned()
    if not (anything_unfinished() if unfinished is None else unfinished):
        # No task waits and none is queued ahead anywhere: a pass would find nothing to give
        # the node or to take back for it, and its reads of the pool would only hold back the
        # client's next prompt. A submission from now on sees the node idle and nudges.
        return ended, Assigned()
    try:
        return ended, assign_offering(websockets)
    except Exception:  # the task has ended; its node is the dispatcher's to fill then
        logger.exception("Assigning nodes after task %s ended failed", task.pk)
        return ended, None


def assign_offering(websockets: IdleWebsockets | None) -> Assigned:
    """`assign_nodes` (on the database thread) with the idle `websockets` offered to the tasks it
    starts, right before it chooses: those no task was given are withdrawn at once, the others
    as each run takes its websocket; so passes and endings, one after another on the database
    thread, never hold one another's."""
    if websockets is None:
        return assign_nodes(keep_clients={})
    offered = websockets.offer()
    assigned = Assigned()
    try:
        assigned = assign_nodes(keep_clients=offered)
    finally:
        websockets.withdraw(offered, given=assigned.client_ids())
    return assigned


def take_over(*, task_id: uuid.UUID, from_owner: str) -> tuple[Task, str] | None:
    """The running task with its node, and a lease of our own on it, taken from `from_owner`
    (who sent the message) or because the lease ran out; None when it is not ours to run."""
    task = task_to_run(task_id)
    if task is None:
        return None
    owner = leases.lease_take(
        task_id=task_id, status=Task.Status.RUNNING, expired_only=True, from_owner=from_owner
    )
    return None if owner is None else (task, owner)


class ExecutorConsumer(DirectDispatch, AsyncConsumer):
    """Consumer of EXECUTE_CHANNEL in `worker` processes (scale-out)."""

    async def task_execute(self, message: dict[str, Any]) -> None:
        task_id = uuid.UUID(message["task_id"])
        fresh, ahead = bool(message.get("fresh")), bool(message.get("ahead"))
        spawn(
            self.execute(task_id, message["lease_owner"], fresh=fresh, ahead=ahead),
            name=f"execute-{task_id}",
        )

    async def execute(
        self, task_id: uuid.UUID, from_owner: str, *, fresh: bool, ahead: bool
    ) -> None:
        taken = await database_sync_to_async(take_over)(task_id=task_id, from_owner=from_owner)
        if taken is not None:
            task, owner = taken
            await run_task(task, owner, fresh=fresh, ahead=ahead)
