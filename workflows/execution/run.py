"""Runs one task on its node over ComfyUI's protocol, start to definite end.

A run follows its prompt over the node's websocket and watches its lease, its deadline and
requests (cancel; give back a task queued ahead) beside it; it ends the task through
`workflows.tasks.endings`. A run queued ahead posts its prompt into a busy node's queue at once
and waits there, on its own websocket, for ComfyUI to start it; its deadline counts from then. The same run
resumes a task whose previous owner died (its prompt already started): it settles the prompt
from the node's `/history`, or follows it again over a new websocket. Runs are started by
`workflows.execution.start`, which also ends them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import shutil
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from comfy_router.background import spawn
from comfy_router.loop_local import loop_local
from comfy_router.wakeups import dispatch_wakeup
from nodes.services import node_mark_offline
from workflows.comfyui.classes import sends_websocket_images
from workflows.comfyui.client import (
    ComfyUIError,
    EventStream,
    MessageTooBig,
    NodeUnreachable,
    PromptRejected,
    PromptTracker,
    node_clients,
)
from workflows.comfyui.events import (
    Event,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
)
from workflows.execution.comfy_relay import PromptRelay
from workflows.execution.idle_websockets import idle_websockets
from workflows.execution.outputs import (
    OutputBudget,
    TooMuchOutput,
    fetch_saved_files,
    store_websocket_image,
)
from workflows.execution.run_requests import run_requests
from workflows.models import Task
from workflows.tasks import leases, live, services
from workflows.tasks.endings import TaskError
from workflows.tasks.files import outputs_dir

logger = logging.getLogger(__name__)

# Previews for the task's live preview, unless a ComfyUI-style client chose otherwise in its
# `extra_data` ("none", "taesd", …): its choice goes to the node, as to one ComfyUI.
PREVIEW_METHOD = "auto"
PROMPT_ENDS = (ExecutionSuccess, ExecutionError, ExecutionInterrupted)
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


@dataclass(frozen=True)
class Outcome:
    """How a run ended its prompt, for the task's ending (`workflows.execution.start`)."""

    status: str
    error: TaskError | None = None
    outputs: list[dict[str, Any]] | None = None
    progress: float | None = None
    ran_on: int | None = None  # the node the run still holds, to let go of
    node_idle: float | None = None  # seconds the node sat idle before the prompt started
    history: dict[str, Any] | None = None  # what ComfyUI's /history shows of the prompt


class PromptEnds:
    """When each node last ended prompts, as this process saw them: (the node's timestamp in
    milliseconds, our clock), for the idle time before the next one started."""

    KEPT = 8  # a few per node: the runs of two prompts in a row may hear of them in any order

    def __init__(self) -> None:
        self.recent: dict[int, deque[tuple[int, float]]] = {}

    def ended(self, node_id: int, timestamp: int) -> None:
        self.recent.setdefault(node_id, deque(maxlen=self.KEPT)).append((timestamp, time.time()))

    def idle_before(self, node_id: int, timestamp: int, waiting_since: float) -> float | None:
        """The node's idle time before a prompt that started at `timestamp`, if its task was
        waiting (since `waiting_since`, our clock) when the prompt before ended. Asked when the
        prompt has ended: the end before its start has been heard of by then."""
        before = [end for end in self.recent.get(node_id, ()) if end[0] <= timestamp]
        if not before:
            return None
        last = max(before)
        if waiting_since > last[1]:
            return None
        return (timestamp - last[0]) / 1000


prompt_ends = loop_local(PromptEnds)


def _retrieve(part: asyncio.Task[Any]) -> None:
    """Takes a cancelled part's outcome, so asyncio never reports it as never retrieved."""
    if not part.cancelled():
        part.exception()


class TaskRun:
    def __init__(
        self,
        task: Task,
        owner: str,
        *,
        fresh: bool = False,
        ahead: bool = False,
        websocket: EventStream | None = None,
        sent: asyncio.Event | None = None,
    ) -> None:
        self.task = task
        self.owner = owner  # our lease: every write that ends or hands back the task needs it
        self.node = task.node
        assert self.node is not None
        self.client = node_clients.get(self.node.url, self.node.token or None)
        self.tracker = PromptTracker(task.graph, task.prompt_id, task.output_node or None)
        self.relay = PromptRelay(task)
        # True when a prompt of this task may be on the node already (a previous owner's run):
        # the node is then asked before anything is sent.
        self.prompt_started = task.prompt_started and not fresh
        self.interrupt_reason: str | None = None  # "cancel" | "timeout"
        self.interrupt_sent_at: float | None = None
        # Queued behind another prompt on the node (or, taken over, perhaps): the deadline then
        # counts from the moment ComfyUI starts it, which `executing_since` records.
        self.ahead = ahead or not fresh
        self.executing_since: float | None = None
        self.start_timestamp: int | None = None  # the node's, from its execution_start
        # Sending the prompt and taking it back (cancel, steal) never overlap: a request
        # answered while the POST is on its way could not know the prompt is there.
        self.submitting = asyncio.Lock()
        self.given_back = False
        self.collecting = False  # the prompt ended well; its outputs are being fetched
        self.outputs: list[dict[str, Any]] | None = None
        # Images sent over the websocket are written as they come, within the task's bounds.
        self.budget = OutputBudget(settings.ROUTER.task_max_output_bytes)
        self.websocket_images: list[dict[str, Any]] = []
        # Progress and preview reach the database at most every DB_WRITE_INTERVAL, the first
        # time one interval after the start: a short task ends before it needs any.
        self.last_write = time.monotonic()
        self.node_released = False
        # The node's websocket under the task's client id. A run that ends cleanly leaves it
        # open for the next task the node gets here, if any: no new connection per task.
        self.websocket = websocket
        # Set once the prompt is on the node, or the run is over (see `start.start_runs`).
        self.sent = sent or asyncio.Event()

    async def run(self) -> Outcome | None:
        """Follows the task's prompt to its end; None when the task went back to the queue or to
        another run (the ending is then theirs)."""
        try:
            return await self._run()
        finally:
            self.sent.set()
            self.drop_websocket()  # unless kept for the node's next task

    async def _run(self) -> Outcome | None:
        await live.publish(self.task.id, {"type": "status", "status": "running", "node": self.node.url})
        # Fetching the outputs is part of following the prompt: the lease, the deadline and
        # cancel requests watch it too, so a slow /view neither outlives the lease (another run
        # would fetch again) nor the task's deadline.
        follow = asyncio.create_task(self.follow_to_outputs())
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
            and not settings.ROUTER.scaled_out
        )
        if not reusable:
            self.drop_websocket()
        outputs = self.outputs if status == Task.Status.DONE else None
        if status in ("requeue", "lost"):
            return None
        if status != Task.Status.DONE and (self.collecting or self.websocket_images):
            # Cut short while fetching (cancel, deadline): what was stored goes with it. Not
            # after losing the lease: the folder is the new owner's then.
            await asyncio.to_thread(shutil.rmtree, outputs_dir(self.task.id), True)
        ran_on = None if self.node_released else self.node.pk
        if reusable and ran_on is not None and self.websocket is not None and self.websocket.open:
            # Kept for the node's next task here (see `workflows.execution.idle_websockets`),
            # which the task's ending may give it at once.
            websocket, self.websocket = self.websocket, None
            idle_websockets().keep(self.node.pk, self.node.url, websocket)
        return Outcome(
            status,
            error,
            outputs,
            self.tracker.progress,
            ran_on,
            self.node_idle(),
            self.relay.history(self.tracker, self.saved_files(outputs or [])),
        )

    def saved_files(self, outputs: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any]]]:
        """Each file the node saved, with the output it is stored as: they were fetched in the
        tracker's order, after the images that came over the websocket."""
        return list(zip(self.tracker.outputs, outputs[len(self.websocket_images) :]))

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
                self.sent.set()
                async for event in events:
                    await self.relay.forward(events.message, event)
                    self.notice(event)
                    if self.tracker.feed(event):
                        await self.store_websocket_images()
                        await self.report()
                    if self.tracker.finished:
                        return self.outcome()
                raise NodeUnreachable("the websocket closed")
            except MessageTooBig as failure:
                self.drop_websocket()
                await self.stop_prompt_on_node()
                return Task.Status.ERROR, TaskError(f"Node {self.node.url} failed: {failure}.")
            except TooMuchOutput as failure:
                await self.stop_prompt_on_node()
                return Task.Status.ERROR, TaskError(f"The task's {failure}: stopped on {self.node.url}.")
            except NodeUnreachable as lost:
                self.drop_websocket()
                if not self.prompt_started:
                    return await self.node_unreachable(lost)
                failures += 1
                if failures > RECONNECT_ATTEMPTS:
                    if self.executing_since is None:
                        # Lost while queued behind another prompt, never seen to start: like
                        # a prompt never sent, it goes to another node.
                        return await self.node_unreachable(lost)
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

    def notice(self, event: Event) -> None:
        """Notes when the node starts our prompt and when it ends it (for its idle time)."""
        if event.prompt_id != self.task.prompt_id:
            return
        if self.executing_since is None:
            self.executing_since = time.monotonic()
        if isinstance(event, ExecutionStart):
            self.start_timestamp = event.timestamp
        elif isinstance(event, PROMPT_ENDS) and event.timestamp is not None:
            prompt_ends().ended(self.node.pk, event.timestamp)

    def node_idle(self) -> float | None:
        """How long the node sat idle before our prompt while our task waited, if known."""
        if self.start_timestamp is None:
            return None
        waiting_since = self.task.created_at.timestamp()
        return prompt_ends().idle_before(self.node.pk, self.start_timestamp, waiting_since)

    async def submit(self) -> None:
        async with self.submitting:
            await self._submit()

    async def _submit(self) -> None:
        if self.given_back:
            raise RunEnded("requeue")
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
                extra_data={"preview_method": PREVIEW_METHOD, **self.extra_data()},
            )
        except PromptRejected as rejected:
            raise RunEnded(Task.Status.ERROR, rejection_error(rejected)) from None
        self.prompt_started = True

    def extra_data(self) -> dict[str, Any]:
        """What a ComfyUI-style client sent with its prompt (`extra_pnginfo`, …), for the node:
        not its client id, which is the router's on the node."""
        return {k: v for k, v in (self.task.extra_data or {}).items() if k != "client_id"}

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
            self.relay.from_history(entry)
            return self.outcome()
        if self.task.prompt_id in running:
            if self.executing_since is None:
                self.executing_since = time.monotonic()
            return None
        if self.task.prompt_id in pending:
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
        """Renews the lease; turns a cancel request or the deadline into an interrupt, and a
        steal request into giving the task back."""
        renew_every = max(settings.ROUTER.task_lease / 3, CONTROL_INTERVAL)
        last_renewal = time.monotonic()
        watcher = run_requests()
        requests = watcher.watch(self.task.id)
        try:
            while True:
                # Woken early by a request told in this process (a steal, most often).
                try:
                    await asyncio.wait_for(requests.changed.wait(), CONTROL_INTERVAL)
                except TimeoutError:
                    pass
                requests.changed.clear()
                if requests.steal.is_set() and not requests.cancel.is_set():
                    requests.steal.clear()
                    await self.give_back()
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
                    reason = (
                        "cancel" if requests.cancel.is_set()
                        else "timeout" if self.past_deadline()
                        else None
                    )  # fmt: skip
                    if reason is not None and self.collecting:
                        # Nothing runs on the node any more: stop fetching, end now.
                        self.interrupt_reason = reason
                        raise RunEnded(*self.interrupted_outcome())
                    if reason is not None:
                        await self.interrupt(reason)
                        if reason == "cancel":
                            requests.cancel_sent.set()
                elif (
                    self.interrupt_sent_at
                    and time.monotonic() - self.interrupt_sent_at > INTERRUPT_GRACE
                ):
                    raise RunEnded(*self.interrupted_outcome())
        finally:
            watcher.forget(self.task.id)

    def past_deadline(self) -> bool:
        """TASK__TIMEOUT from the prompt's start. One queued ahead waits first for the prompts
        before it, each held to the same deadline (and the grace of its interrupt): it is given
        up only when even they cannot explain the wait (a node that never starts it)."""
        timeout = settings.ROUTER.task_timeout
        if self.executing_since is not None:
            return time.monotonic() - self.executing_since > timeout
        elapsed = (timezone.now() - (self.task.started_at or timezone.now())).total_seconds()
        if self.ahead:
            return elapsed > (timeout + INTERRUPT_GRACE) * (1 + settings.ROUTER.queue_ahead)
        return elapsed > timeout

    async def interrupt(self, reason: str) -> None:
        async with self.submitting:
            await self._interrupt(reason)

    async def _interrupt(self, reason: str) -> None:
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

    async def give_back(self) -> None:
        """The dispatcher wants the task for an idle node: unless its prompt has started, take
        it out of this node's queue, make sure it never ran, and put the task back in ours.
        One that started (or cannot be taken back for sure) stays, and the request is dropped."""
        async with self.submitting:
            if self.executing_since is None and self.interrupt_reason is None:
                if await self.taken_off_node():
                    self.given_back = True  # a submit() still to come sends nothing
                    if await self.requeue("taken back for an idle node or a fairer task", stolen=True):
                        raise RunEnded("requeue")
                    raise RunEnded("lost")  # our lease is gone: its new run settles it
        await Task.objects.filter(pk=self.task.id).aupdate(steal_requested=False)

    async def taken_off_node(self) -> bool:
        """Deletes the prompt from the node's queue; True when it is gone and never ran."""
        if not self.prompt_started:
            return True
        prompt_id = self.task.prompt_id
        try:
            await self.client.queue_delete([prompt_id])
            # Queue first, then history, as in settle_from_history.
            running, pending = await self.client.queue_prompt_ids()
            if prompt_id in running or prompt_id in pending:
                return False
            return await self.client.history(prompt_id) is None
        except ComfyUIError as failure:
            logger.info("Task %s: could not take it back: %s", self.task.id, failure)
            return False

    # -- outputs -----------------------------------------------------------------------------

    async def store_websocket_images(self) -> None:
        """Writes the images that came over the websocket to disk now, and forgets their bytes:
        a graph that sends many large ones must not hold them all in memory."""
        images = self.tracker.websocket_images
        while images:
            image = images.pop(0)
            index = len(self.websocket_images)
            self.budget.add(len(image.data))
            if len(image.data) <= INLINE_WRITE_BYTES:
                stored = store_websocket_image(self.task.id, index, image)
            else:
                stored = await asyncio.to_thread(store_websocket_image, self.task.id, index, image)
            self.websocket_images.append(stored)

    async def stop_prompt_on_node(self) -> None:
        """Takes our prompt off the node (queued or running), for a task that ends here while
        it would go on there; the node's answer does not matter."""
        try:
            await self.client.queue_delete([self.task.prompt_id])
            await self.client.interrupt(self.task.prompt_id)
        except ComfyUIError as failure:
            logger.info("Task %s: could not stop its prompt: %s", self.task.id, failure)

    async def follow_to_outputs(self) -> tuple[str, TaskError | None]:
        """Follows the prompt to its end, then fetches what a successful one made."""
        status, error = await self.follow()
        if status != Task.Status.DONE:
            return status, error
        self.collecting = True
        try:
            self.outputs = await self.collect_outputs()
        except ComfyUIError as failure:
            return Task.Status.ERROR, TaskError(f"Could not fetch outputs: {failure}")
        except TooMuchOutput as failure:
            return Task.Status.ERROR, TaskError(f"The task's {failure}.")
        return status, error

    async def collect_outputs(self) -> list[dict[str, Any]]:
        stored = list(self.websocket_images)
        stored += await fetch_saved_files(
            self.client, self.task.id, self.tracker.outputs, len(stored), self.budget
        )
        if sends_websocket_images(self.task.graph) and not self.websocket_images:
            # Settled from /history: the images went over a websocket nobody was listening to.
            # Running the prompt again costs little, ComfyUI having cached all but the last node.
            # It costs no attempt: neither the node nor the task failed, a router process died.
            lost = "The images sent over the node's websocket were lost with the connection."
            if await self.requeue(lost, refund=True):
                raise RunEnded("requeue")
            raise RunEnded(Task.Status.ERROR, TaskError(lost))
        return stored

    async def requeue(self, reason: str, *, stolen: bool = False, refund: bool = False) -> bool:
        """Gives the task another attempt if it has one left, letting go of the node; False
        otherwise. `stolen`: taken back before it started; it costs no attempt, nor does a
        `refund` one."""
        free = stolen or refund
        if self.task.attempts >= settings.ROUTER.task_max_attempts and not free:
            return False
        held = None if self.node_released else self.node.pk
        if not await database_sync_to_async(services.task_requeue)(
            task_id=self.task.id, owner=self.owner, node_id=held, stolen=stolen, refund=refund
        ):
            return False
        self.node_released = True
        logger.info("Task %s queued again: %s", self.task.id, reason)
        await live.publish(self.task.id, {"type": "status", "status": "pending", "node": None})
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
