"""Websockets kept open between a node's tasks (embedded router).

A run that ends cleanly hands its node's websocket to the node's next task when there is one
(see `TaskRun.run`); when there is none yet, the websocket waits here, for at most
`NODE__WEBSOCKET_IDLE` seconds, and the next task given that node takes it instead of
connecting again. A node holds up to 1 + NODE__QUEUE_AHEAD prompts, each followed on its own
websocket, so as many may wait here for it. The task is then started under the websocket's
client id (see `workflows.scheduling.assignment.assign_nodes`), so ComfyUI sends its messages
there.

While a websocket waits, what the node sends on it (queue status broadcasts) is read and
dropped, so the node never waits on us; nothing of a task can come before its prompt is sent.

Everything here runs on the event loop but `offer` and `withdraw`, which a dispatch pass and a
run's ending call on the database thread around their choice of nodes (offered earlier, on the
loop, the websockets were held from whichever of them came first to the database thread, and the
other opened new ones): the lists they read are guarded by a lock. A client id stays offered
from then until its run takes the websocket, or the websocket goes.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from django.conf import settings

from comfy_router.background import spawn
from comfy_router.loop_local import loop_local
from workflows.comfyui.client import ComfyUIError, EventStream

logger = logging.getLogger(__name__)


class IdleWebsockets:
    """The idle websockets of this process's event loop, up to 1 + NODE__QUEUE_AHEAD per node."""

    def __init__(self) -> None:
        # node → [(its URL then, the websocket, the reader that waits on it)], oldest first
        self._waiting: dict[int, list[tuple[str, EventStream, asyncio.Task[None]]]] = {}
        self._offered: set[str] = set()  # client ids a pass under way may give a task
        self._lock = threading.Lock()

    def offer(self) -> dict[int, list[str]]:
        """Node → client ids of its idle websockets not offered to another pass already: a task
        given the node takes one of them (and its run the websocket). Passes overlap (this one
        reads the pool while the last one's runs have yet to take their websockets), and two
        tasks under one client id would share a websocket that ComfyUI gives only one of them:
        what no task was given is withdrawn at once (`withdraw`), the rest as each run takes
        its websocket (`take`)."""
        with self._lock:
            offered = {
                node_id: [
                    entry[1].client_id
                    for entry in entries
                    if entry[1].client_id not in self._offered
                ]
                for node_id, entries in self._waiting.items()
            }
            offered = {node_id: ids for node_id, ids in offered.items() if ids}
            for ids in offered.values():
                self._offered.update(ids)
            return offered

    def withdraw(self, offered: dict[int, list[str]], *, given: set[str]) -> None:
        """Withdraws the offered client ids no task was `given`."""
        with self._lock:
            for ids in offered.values():
                self._offered.difference_update(i for i in ids if i not in given)

    def keep(self, node_id: int, url: str, websocket: EventStream) -> None:
        """Keeps the websocket a run opened to the node at `url`."""
        limit = settings.ROUTER.websocket_idle
        if limit <= 0 or not websocket.open:
            spawn(websocket.close(), name=f"close-websocket-{node_id}")
            return
        with self._lock:
            entries = self._waiting.setdefault(node_id, [])
            dropped = []
            while len(entries) >= 1 + settings.ROUTER.queue_ahead:
                dropped.append(entries.pop(0))
            reader = spawn(self._wait(node_id, websocket, limit), name=f"idle-websocket-{node_id}")
            entries.append((url, websocket, reader))
        for _, oldest, oldest_reader in dropped:
            oldest_reader.cancel()
            spawn(oldest.close(), name=f"close-websocket-{node_id}")

    async def take(self, node_id: int, url: str, client_id: str) -> EventStream | None:
        """The node's idle websocket under `client_id`, still open, if the node is still at
        `url` (an operator may have moved it); None otherwise."""
        with self._lock:
            self._offered.discard(client_id)
            entries = self._waiting.get(node_id, [])
            waiting = next((entry for entry in entries if entry[1].client_id == client_id), None)
            if waiting is None or waiting[0] != url:
                return None
            entries.remove(waiting)
        _, websocket, reader = waiting
        reader.cancel()  # a receive cancelled loses no message (websockets' recv)
        await asyncio.gather(reader, return_exceptions=True)
        if not websocket.open:
            spawn(websocket.close(), name=f"close-websocket-{node_id}")
            return None
        return websocket

    async def _wait(self, node_id: int, websocket: EventStream, limit: float) -> None:
        try:
            async with asyncio.timeout(limit):
                async for _ in websocket:
                    pass
        except (TimeoutError, ComfyUIError):
            pass
        except Exception:  # whatever the node sent, this websocket is done with
            logger.debug("Idle websocket of node %s failed", node_id, exc_info=True)
        # Not taken in time, or closed by the node: let it go.
        with self._lock:
            self._offered.discard(websocket.client_id)
            entries = self._waiting.get(node_id, [])
            for entry in entries:
                if entry[1] is websocket:
                    entries.remove(entry)
                    break
            if not entries:
                self._waiting.pop(node_id, None)
        await websocket.close()


idle_websockets = loop_local(IdleWebsockets)  # this event loop's idle websockets
