"""Nudges to the dispatcher: "look for work now" (a task was submitted, a node turned idle or was
added, a download finished). The dispatcher's 1-second sweep is the backstop when one is lost.
A nudge with `downloads` says a task with files to fetch is waiting: only then (and in the
sweep) does a pass look for downloads to start.

A process that runs a dispatcher (`serve`, `worker`) nudges its own, through an event on its
loop: nudges that arrive during a dispatch pass make one more pass, not one each. A process
without one (an API process when scaled out) sends the nudge through the channel layer to
whichever dispatcher listens there.

A `refill` nudge is one that can wait a moment: a run ended on a node that still holds its next
prompt (queued ahead), so the node is busy for a whole prompt yet and has room for one more.
The dispatcher gathers such nudges for up to REFILL_GATHER before its pass, so that one pass
fills the room of every node that ended a prompt meanwhile, rather than one pass per prompt
(`workflows.dispatch.loop`); any other nudge of this process ends the gathering at once (a
wake-up message from another process is seen when the gathering ends).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

DISPATCH_CHANNEL = "comfy-router-dispatch"
REFILL_GATHER = 0.02  # seconds refill nudges are gathered before a pass


class LocalDispatcher:
    """The wake-up event of the dispatcher running in this process, if one runs here."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._urgent: asyncio.Event | None = None
        self._downloads = False

    def listen(self) -> tuple[asyncio.Event, asyncio.Event]:
        """Called by the dispatcher on its loop; nudges from this process set the first event,
        those that are not refills the second as well."""
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._event, self._urgent = asyncio.Event(), asyncio.Event()
            return self._event, self._urgent

    def stop_listening(self) -> None:
        with self._lock:
            self._loop = self._event = self._urgent = None

    def take_downloads(self) -> bool:
        """Whether a nudge asked to look for downloads since the last call."""
        with self._lock:
            wanted, self._downloads = self._downloads, False
            return wanted

    def nudge(self, *, downloads: bool = False, refill: bool = False) -> bool:
        """Sets the events (from any thread); False when no dispatcher listens in this
        process."""
        with self._lock:
            loop, event, urgent = self._loop, self._event, self._urgent
            if loop is not None and downloads:
                self._downloads = True
        if loop is None or event is None or urgent is None or loop.is_closed():
            return False
        # Both in one callback: set one at a time from another thread, the dispatcher could wake
        # on the first and see the nudge as a refill.
        events = (event,) if refill and not downloads else (urgent, event)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            set_all(events)
        else:
            loop.call_soon_threadsafe(set_all, events)
        return True

    def run_soon(self, coroutine: Coroutine[Any, Any, Any]) -> bool:
        """Runs `coroutine` on the dispatcher's loop without waiting for it (from a request
        thread); False, and the coroutine closed unrun, when no dispatcher listens here."""
        with self._lock:
            loop = self._loop
        if loop is None or loop.is_closed():
            coroutine.close()
            return False
        asyncio.run_coroutine_threadsafe(coroutine, loop)
        return True


def set_all(events: tuple[asyncio.Event, ...]) -> None:
    for event in events:
        event.set()


local_dispatcher = LocalDispatcher()


async def dispatch_wakeup(*, downloads: bool = False, refill: bool = False) -> None:
    if local_dispatcher.nudge(downloads=downloads, refill=refill):
        return
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": "dispatch.wakeup", "downloads": downloads, "refill": refill}
    try:
        await layer.send(DISPATCH_CHANNEL, message)
    except Exception:  # a full channel means a wake-up is already waiting
        logger.debug("dispatch wake-up not sent", exc_info=True)


def dispatch_wakeup_sync(*, downloads: bool = False) -> None:
    if not local_dispatcher.nudge(downloads=downloads):
        async_to_sync(dispatch_wakeup)(downloads=downloads)
