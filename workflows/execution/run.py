"""Runs one task on its node over ComfyUI's protocol, start to definite end.

`ExecutorConsumer` is the Channels worker consumer of EXECUTE_CHANNEL: the dispatcher sends it
`{"type": "task.execute", "task_id"}` after claiming a node, and it runs `TaskRun` for that task.
The same run resumes a task whose previous owner died (its prompt already started): it settles
the prompt from the node's `/history`, or follows it again over a new websocket.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
import time
import uuid
from typing import Any

from channels.consumer import AsyncConsumer
from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from comfy_router.background import spawn
from comfy_router.wakeups import dispatch_wakeup
from nodes.services import anode_release, node_mark_offline
from workflows.comfyui.client import (
    ComfyUIError,
    EventStream,
    NodeUnreachable,
    PromptRejected,
    PromptTracker,
    node_clients,
)
from workflows.execution.cancel_requests import cancel_requests
from workflows.execution.idle_websockets import idle_websockets
from workflows.execution.outputs import fetch_saved_files, store_websocket_images
from workflows.models import Task
from workflows.scheduling.assignment import task_to_run
from workflows.tasks import leases, live, services
from workflows.tasks.endings import finalize
from workflows.tasks.services import TaskError

logger = logging.getLogger(__name__)

EXECUTE_CHANNEL = "comfy-router-execute"
PREVIEW_METHOD = "auto"
CONTROL_INTERVAL = 0.5  # how often a run checks cancel requests and its deadline
DB_WRITE_INTERVAL = 0.5  # progress and preview are written at most this often
RECONNECT_ATTEMPTS = 5
INTERRUPT_GRACE = 15.0  # seconds a node gets to confirm an interrupt before we give up on it
# Outputs up to this size are written on the event loop: that takes less than a trip to a thread.
INLINE_WRITE_BYTES = 256 * 1024


class RunEnded(Exception):
    """Raised inside a run to stop following the prompt with a decided outcome."""

    def __init__(self, status: str, error: TaskError | None = None) -> None:
        super().__init__(status)
        self.status = status
        self.error = error


class ExecutorConsumer(AsyncConsumer):
    async def task_execute(self, message: dict[str, Any]) -> None:
        task_id = uuid.UUID(message["task_id"])
        from_owner = message.get("lease_owner")
        fresh = bool(message.get("fresh"))
        spawn(execute_task(task_id, from_owner, fresh=fresh), name=f"execute-{task_id}")


def start_here(
    task: Task, owner: str, *, fresh: bool, websocket: EventStream | None = None
) -> None:
    """Runs a task just given a node in this process, with the lease taken for it and the row
    as read then: the embedded router's way (see `executors_are_here`). `websocket`: the open
    session of the node's previous run, under the task's client id, to go on with."""
    spawn(
        execute_task(task.pk, owner, fresh=fresh, handed=task, websocket=websocket),
        name=f"execute-{task.pk}",
    )


async def start_with_idle_websocket(task: Task, owner: str) -> None:
    """`start_here` for a task just given its node, with the websocket the node's last run left
    waiting (see `workflows.execution.idle_websockets`), if there is one under the task's client id."""
    node = task.node
    assert node is not None
    kept = await idle_websockets().take(node.pk, node.url, task.client_id)
    start_here(task, owner, fresh=True, websocket=kept)


def executors_are_here() -> bool:
    """With the in-memory channel layer the only executor is this process's: the dispatcher
    starts runs itself rather than through a message to itself, and a message is delivered
    once. Through Redis one can come twice: channels-redis puts back what a receiver took but
    was cancelled before acknowledging."""
    return settings.ROUTER.channel_layer_url.startswith("memory")


async def execute_task(
    task_id: uuid.UUID,
    from_owner: str | None = None,
    *,
    fresh: bool = False,
    handed: Task | None = None,
    websocket: EventStream | None = None,
) -> None:
    """Runs the task if the lease is handed over from `from_owner` (the dispatcher that sent the
    message) or ran out: a message that arrives late, after another run took the task over,
    is dropped rather than starting a second run of the same prompt. `fresh`: the dispatcher
    just gave the task its node, so no prompt of it can be on the node yet. `handed`: the task
    as the dispatcher of this process read it, with the lease `from_owner` (see `start_here`)."""
    if handed is None and from_owner:
        handed = hand_overs.take(task_id, from_owner)
    if handed is not None and executors_are_here():
        task, owner = handed, from_owner  # no second copy can come: the lease is ours
    else:
        started = await database_sync_to_async(run_start)(
            task_id=task_id, from_owner=from_owner, handed=handed
        )
        if started is None:
            if websocket is not None:
                await websocket.close()
            return
        task, owner = started
    try:
        await TaskRun(task, owner, fresh=fresh, websocket=websocket).run()
    except asyncio.CancelledError:
        # The process is shutting down: the prompt goes on on the node, and whoever runs next
        # (this router after a restart, or another worker) takes the task over.
        await database_sync_to_async(leases.lease_drop)(task_id=task_id, owner=owner)
        raise
    except Exception:
        logger.exception("Task %s failed inside the router", task_id)
        await finalize(
            task_id,
            Task.Status.ERROR,
            TaskError("The router failed while running this task; see its log."),
            ran_on=task.node_id,
            task=task,
            owner=owner,
        )


def _retrieve(part: asyncio.Task[Any]) -> None:
    """Takes a cancelled part's outcome, so asyncio never reports it as never retrieved."""
    if not part.cancelled():
        part.exception()


def run_start(
    *, task_id: uuid.UUID, from_owner: str | None, handed: Task | None = None
) -> tuple[Task, str] | None:
    """The running task with its node (read here unless `handed` over), and a lease of our own
    on it: taken from `from_owner`, who sent the message, or because the lease ran out. None
    when the task is not ours to run, as for a second copy of a message."""
    task = handed or task_to_run(task_id)
    if task is None:
        return None
    owner = leases.lease_take(
        task_id=task_id, status=Task.Status.RUNNING, expired_only=True, from_owner=from_owner
    )
    return None if owner is None else (task, owner)


class HandOvers:
    """Tasks the dispatcher of this process just gave a node, as it read them in the same
    transaction, for the executor here to take instead of reading them again.

    Only while fresh (a third of the lease): a message that took longer to arrive may come after
    the lease ran out and someone else took the task over, and only the database can tell. An
    executor in another process (scaled out) reads the database; what nobody takes is dropped."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tasks: dict[tuple[uuid.UUID, str], tuple[Task, float]] = {}

    def put(self, task: Task, owner: str) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self._tasks) >= MAX_HAND_OVERS:
                fresh_for = self.fresh_for()
                self._tasks = {k: v for k, v in self._tasks.items() if now - v[1] < fresh_for}
            self._tasks[(task.pk, owner)] = (task, now)

    def take(self, task_id: uuid.UUID, owner: str) -> Task | None:
        with self._lock:
            handed = self._tasks.pop((task_id, owner), None)
        if handed is None or time.monotonic() - handed[1] >= self.fresh_for():
            return None
        return handed[0]

    def __len__(self) -> int:
        return len(self._tasks)

    @staticmethod
    def fresh_for() -> float:
        return settings.ROUTER.task_lease / 3


MAX_HAND_OVERS = 1000
hand_overs = HandOvers()


class TaskRun:
    def __init__(
        self, task: Task, owner: str, *, fresh: bool = False, websocket: EventStream | None = None
    ) -> None:
        self.task = task
        self.owner = owner  # our lease: every write that ends or hands back the task needs it
        self.node = task.node
        assert self.node is not None
        self.client = node_clients.get(self.node.url, self.node.token or None)
        self.tracker = PromptTracker(task.graph, task.prompt_id, task.output_node or None)
        # True when a prompt of this task may be on the node already (a previous owner's run):
        # the node is then asked before anything is sent.
        self.prompt_started = task.prompt_started and not fresh
        self.interrupt_reason: str | None = None  # "cancel" | "timeout"
        self.interrupt_sent_at: float | None = None
        # Progress and preview reach the database at most every DB_WRITE_INTERVAL, the first
        # time one interval after the start: a short task ends before it needs any.
        self.last_write = time.monotonic()
        self.node_released = False
        # The node's websocket under the task's client id. A run that ends cleanly leaves it
        # open for the next task the node gets here, if any: no new connection per task.
        self.websocket = websocket

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            self.drop_websocket()  # unless handed to the next run

    async def _run(self) -> None:
        await live.publish(self.task.id, {"type": "status", "status": "running", "node": self.node.url})
        follow = asyncio.create_task(self.follow())
        control = asyncio.create_task(self.control_loop())
        try:
            await asyncio.wait({follow, control}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            # The part that did not decide is cancelled, not waited for: the task's ending
            # needs nothing from it, and each wait is another turn of a busy event loop.
            for part in (follow, control):
                part.cancel()
                part.add_done_callback(_retrieve)
        decided = follow if follow.done() and not follow.cancelled() else control
        try:
            status, error = decided.result()
        except RunEnded as ended:
            status, error = ended.status, ended.error
        # The node took the prompt to its end over this websocket: it is ready for another one.
        reusable = (
            decided is follow
            and self.tracker.state in ("success", "error")
            and self.interrupt_reason is None
            and executors_are_here()
        )
        if not reusable:
            self.drop_websocket()
        outputs: list[dict[str, Any]] | None = None
        if status == Task.Status.DONE:
            try:
                outputs = await self.collect_outputs()
            except ComfyUIError as failure:
                status, error = Task.Status.ERROR, TaskError(f"Could not fetch outputs: {failure}")
            except RunEnded as ended:
                status, error = ended.status, ended.error
        if status in ("requeue", "lost"):
            return
        ran_on = None if self.node_released else self.node.pk
        websocket = self.websocket if self.websocket is not None and self.websocket.open else None
        idle = idle_websockets()
        keep_clients = idle.client_ids()
        if websocket is not None:
            keep_clients[self.node.pk] = websocket.client_id
        assigned = await finalize(
            self.task.id,
            status,
            error,
            outputs,
            progress=self.tracker.progress,
            ran_on=ran_on,
            task=self.task,
            owner=self.owner,
            assign_next=executors_are_here() and ran_on is not None,
            keep_clients=keep_clients,
        )
        if assigned is None:  # someone else ended it: the node may be theirs now
            return
        for task, owner in assigned:
            node = task.node
            assert node is not None
            if websocket is not None and node.pk == self.node.pk and node.url == self.node.url:
                self.websocket = None  # the next run's now
                start_here(task, owner, fresh=True, websocket=websocket)
                websocket = None
            else:
                await start_with_idle_websocket(task, owner)
        if websocket is not None:  # no task for the node yet: the websocket waits for one
            self.websocket = None
            idle.keep(self.node.pk, self.node.url, websocket)

    def drop_websocket(self) -> None:
        """Closes the websocket, in the background: nothing waits for the closing handshake."""
        websocket, self.websocket = self.websocket, None
        if websocket is not None:
            spawn(websocket.close(), name=f"close-websocket-{self.task.id}")

    # -- following the prompt ---------------------------------------------------------------

    async def follow(self) -> tuple[str, TaskError | None]:
        """Submits the prompt (unless a previous owner did) and follows it to its end, reconnecting
        or reconciling through /history when the websocket is lost."""
        failures = 0
        while True:
            try:
                events = await self.connect()
                failures = 0
                if self.prompt_started:
                    # Resuming: it may have ended while nobody listened.
                    settled = await self.settle_from_history()
                    if settled is not None:
                        return settled
                if not self.prompt_started:
                    await self.submit()
                async for event in events:
                    if self.tracker.feed(event):
                        await self.report()
                    if self.tracker.finished:
                        return self.outcome()
                raise NodeUnreachable("the websocket closed")
            except NodeUnreachable as lost:
                self.drop_websocket()
                if not self.prompt_started:
                    return await self.node_unreachable(lost)
                failures += 1
                if failures > RECONNECT_ATTEMPTS:
                    return Task.Status.ERROR, TaskError(
                        f"Lost node {self.node.url} during the task: {lost}"
                    )
                logger.info("Task %s: websocket lost (%s); reconnecting", self.task.id, lost)
                await asyncio.sleep(min(0.2 * 2**failures, 3.0))
            except ComfyUIError as failure:
                self.drop_websocket()
                if not self.prompt_started:
                    return await self.node_unreachable(failure)
                failures += 1
                if failures > RECONNECT_ATTEMPTS:
                    return Task.Status.ERROR, TaskError(f"Node {self.node.url} failed: {failure}")
                await asyncio.sleep(min(0.2 * 2**failures, 3.0))

    async def connect(self) -> EventStream:
        """The websocket under the task's client id: the one handed over if still open."""
        kept = self.websocket
        if kept is not None and not (kept.open and kept.client_id == self.task.client_id):
            self.drop_websocket()
        if self.websocket is None:
            self.websocket = await self.client.open_websocket(self.task.client_id)
        return self.websocket

    async def submit(self) -> None:
        if self.interrupt_reason is not None:
            raise RunEnded(*self.interrupted_outcome())
        # The task's `prompt_started` is already set (by the dispatcher with the node): a run
        # that takes it over after we die, even between this POST and its answer, asks the node
        # (queue, history) before submitting, so the prompt never runs twice.
        try:
            await self.client.submit_prompt(
                self.task.graph,
                self.task.client_id,
                prompt_id=self.task.prompt_id,
                extra_data={"preview_method": PREVIEW_METHOD},
            )
        except PromptRejected as rejected:
            raise RunEnded(Task.Status.ERROR, rejection_error(rejected)) from None
        self.prompt_started = True

    async def settle_from_history(self) -> tuple[str, TaskError | None] | None:
        """After losing the websocket or taking the task over: a finished prompt is settled from
        /history; one still queued or running is followed again; a vanished one is retried."""
        try:
            # Queue first, then history: a prompt enters the history before it leaves the
            # queue, so this order cannot miss one that ends in between.
            running, pending = await self.client.queue_prompt_ids()
            entry = await self.client.history(self.task.prompt_id)
        except ComfyUIError:
            return None  # the node is unreachable for now: the caller retries or gives up
        if entry is not None:
            self.tracker.apply_history(entry)
            return self.outcome()
        if self.task.prompt_id in running or self.task.prompt_id in pending:
            return None
        # Neither finished nor queued: the node restarted and forgot the prompt. It is sent
        # again; the task's `prompt_started` stays set, for whoever might take it over next.
        self.prompt_started = False
        return None

    def outcome(self) -> tuple[str, TaskError | None]:
        tracker = self.tracker
        if tracker.state == "success":
            return Task.Status.DONE, None
        if tracker.state == "error":
            failure = tracker.error
            if failure is None:
                return Task.Status.ERROR, TaskError("ComfyUI reported an error.")
            return Task.Status.ERROR, TaskError(
                message=failure.exception_message or "ComfyUI reported an error.",
                node_id=failure.node_id,
                node_type=failure.node_type,
                exception_type=failure.exception_type or None,
            )
        if tracker.state == "interrupted" or self.interrupt_reason is not None:
            return self.interrupted_outcome()
        # The end marker came without success, error or interruption: settle it from /history.
        return Task.Status.ERROR, TaskError("ComfyUI ended the prompt without a result.")

    def interrupted_outcome(self) -> tuple[str, TaskError | None]:
        if self.interrupt_reason == "cancel":
            return Task.Status.CANCELLED, TaskError("Cancelled while running.")
        if self.interrupt_reason == "timeout":
            limit = settings.ROUTER.task_timeout
            return Task.Status.ERROR, TaskError(f"Timed out after {limit:g} s.")
        return Task.Status.ERROR, TaskError("The prompt was interrupted on the node.")

    async def node_unreachable(self, failure: Exception) -> tuple[str, TaskError | None]:
        """The prompt never started: take the node out and give the task to another one."""
        await database_sync_to_async(node_mark_offline)(node_id=self.node.pk, reason=str(failure))
        # Marking it offline ended our claim; releasing it again could free it while a new task
        # holds it.
        self.node_released = True
        if await self.requeue(f"node {self.node.url} unreachable"):
            return "requeue", None
        return Task.Status.ERROR, TaskError(
            f"Node {self.node.url} was unreachable ({failure}) after "
            f"{self.task.attempts} attempt(s)."
        )

    # -- progress, cancel and deadline ----------------------------------------------------------

    async def report(self) -> None:
        tracker = self.tracker
        await live.publish(self.task.id, {"type": "progress", "progress": round(tracker.progress, 4)})
        preview = tracker.latest_preview
        if preview is not None and getattr(self, "_published_preview", None) is not preview:
            self._published_preview = preview
            await live.publish(
                self.task.id, {"type": "preview", "preview": data_url(preview.content_type, preview.data)}
            )
        now = time.monotonic()
        if now - self.last_write >= DB_WRITE_INTERVAL and not tracker.finished:
            self.last_write = now
            changes: dict[str, Any] = {"progress": tracker.progress}
            if preview is not None:
                changes.update(preview=preview.data, preview_content_type=preview.content_type)
            await Task.objects.filter(pk=self.task.id, status=Task.Status.RUNNING).aupdate(**changes)

    async def control_loop(self) -> tuple[str, TaskError | None]:
        """Renews the lease; turns a cancel request or the deadline into an interrupt."""
        started = self.task.started_at or timezone.now()
        renew_every = max(settings.ROUTER.task_lease / 3, CONTROL_INTERVAL)
        last_renewal = time.monotonic()
        watcher = cancel_requests()
        cancel_requested = watcher.watch(self.task.id)
        try:
            while True:
                await asyncio.sleep(CONTROL_INTERVAL)
                if time.monotonic() - last_renewal >= renew_every:
                    last_renewal = time.monotonic()
                    renewed = await database_sync_to_async(leases.lease_renew)(
                        task_id=self.task.id, owner=self.owner
                    )
                    if not renewed:
                        # Another run took the task over (we were too slow to renew): it settles
                        # the prompt and releases the node; this run must touch neither.
                        logger.warning(
                            "Task %s: lease lost; leaving it to its new owner", self.task.id
                        )
                        raise RunEnded("lost")
                if self.interrupt_reason is None:
                    elapsed = (timezone.now() - started).total_seconds()
                    if cancel_requested.is_set():
                        await self.interrupt("cancel")
                    elif elapsed > settings.ROUTER.task_timeout:
                        await self.interrupt("timeout")
                elif (
                    self.interrupt_sent_at
                    and time.monotonic() - self.interrupt_sent_at > INTERRUPT_GRACE
                ):
                    raise RunEnded(*self.interrupted_outcome())
        finally:
            watcher.forget(self.task.id)

    async def interrupt(self, reason: str) -> None:
        self.interrupt_reason = reason
        self.interrupt_sent_at = time.monotonic()
        if not self.prompt_started:
            return  # submit() sees the reason and never sends the prompt
        logger.info("Task %s: interrupting on %s (%s)", self.task.id, self.node.url, reason)
        try:
            await self.client.queue_delete([self.task.prompt_id])
            await self.client.interrupt(self.task.prompt_id)
            running, pending = await self.client.queue_prompt_ids()
            gone = self.task.prompt_id not in running and self.task.prompt_id not in pending
            if gone and await self.client.history(self.task.prompt_id) is None:
                raise RunEnded(*self.interrupted_outcome())  # dequeued before it ever ran
        except ComfyUIError as failure:
            logger.warning("Task %s: interrupt failed: %s", self.task.id, failure)

    # -- outputs -----------------------------------------------------------------------------

    async def collect_outputs(self) -> list[dict[str, Any]]:
        images = self.tracker.websocket_images
        if sum(len(image.data) for image in images) <= INLINE_WRITE_BYTES:
            stored = store_websocket_images(self.task.id, images)
        else:
            stored = await asyncio.to_thread(store_websocket_images, self.task.id, images)
        stored += await fetch_saved_files(
            self.client, self.task.id, self.tracker.outputs, first_index=len(stored)
        )
        expects_websocket_images = any(
            node.get("class_type") == "SaveImageWebsocket" for node in self.task.graph.values()
        )
        if expects_websocket_images and not self.tracker.websocket_images:
            # Settled from /history: the images went over a websocket nobody was listening to.
            # Running the prompt again costs little, ComfyUI having cached all but the last node.
            lost = "The images sent over the node's websocket were lost with the connection."
            if await self.requeue(lost):
                raise RunEnded("requeue")
            raise RunEnded(Task.Status.ERROR, TaskError(lost))
        return stored

    async def requeue(self, reason: str) -> bool:
        """Gives the task another attempt if it has one left; False otherwise."""
        if self.task.attempts >= settings.ROUTER.task_max_attempts:
            return False
        if not await database_sync_to_async(services.task_requeue)(
            task_id=self.task.id, owner=self.owner
        ):
            return False
        logger.info("Task %s queued again: %s", self.task.id, reason)
        await live.publish(self.task.id, {"type": "status", "status": "pending", "node": None})
        if not self.node_released:
            await anode_release(node_id=self.node.pk)
            self.node_released = True
        await dispatch_wakeup()
        return True


def rejection_error(rejected: PromptRejected) -> TaskError:
    node_id = next(iter(rejected.node_errors), None)
    node_type = None
    if node_id is not None and isinstance(rejected.node_errors[node_id], dict):
        node_type = rejected.node_errors[node_id].get("class_type")
    error_type = (rejected.error or {}).get("type")
    return TaskError(
        message=f"ComfyUI rejected the prompt: {rejected}",
        node_id=node_id,
        node_type=node_type,
        exception_type=error_type,
        details=rejected.node_errors or None,
    )


def data_url(content_type: str, data: bytes) -> str:
    return f"data:{content_type};base64,{base64.b64encode(data).decode()}"
