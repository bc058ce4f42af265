"""The router's background work: the loops each app declares in its AppConfig as
`background_services` (health monitor, dispatcher sweep, …) and the Channels worker that consumes
the channels they declare as `worker_channels` (executors).

`serve` runs them on Daphne's event loop; `worker` runs them alone (scale-out). Each loop is
supervised: a crash is logged and the loop restarts, so one bug never silences the others.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from channels.layers import get_channel_layer
from channels.worker import Worker
from django.apps import apps
from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)

ServiceLoop = Callable[[asyncio.Event], Awaitable[None]]
RESTART_DELAY = 1.0

_tracked: set[asyncio.Task[None]] = set()


def spawn(coroutine: Coroutine[Any, Any, None], name: str | None = None) -> asyncio.Task[None]:
    """Starts work that outlives the message that asked for it (a task run, a download); it is
    cancelled, so it can hand its task over, when the process stops.

    It runs in a context of its own, not the caller's: a request's context carries asgiref's
    executor for that request's thread, which is gone once the request is answered."""
    loop = asyncio.get_running_loop()
    task: asyncio.Task[None] = loop.create_task(coroutine, name=name, context=contextvars.Context())
    _tracked.add(task)
    task.add_done_callback(_tracked.discard)
    return task


def registered_services() -> list[str]:
    """Loops declared by each app's AppConfig (`background_services`) plus the settings' list."""
    paths: list[str] = []
    for app_config in apps.get_app_configs():
        paths.extend(getattr(app_config, "background_services", ()))
    return paths + list(settings.COMFY_ROUTER_BACKGROUND_SERVICES)


def registered_worker_channels() -> dict[str, str]:
    """Channel name -> consumer path, declared by each AppConfig (`worker_channels`)."""
    channels: dict[str, str] = {}
    for app_config in apps.get_app_configs():
        channels.update(getattr(app_config, "worker_channels", {}))
    channels.update(settings.COMFY_ROUTER_WORKER_CHANNELS)
    return channels


class BackgroundServices:
    """The loops, and a Channels worker running `application` for the worker channels."""

    def __init__(
        self,
        application: Any,
        services: list[str] | None = None,
        worker_channels: list[str] | None = None,
    ) -> None:
        self.application = application
        self.services = registered_services() if services is None else services
        self.worker_channels = (
            list(registered_worker_channels()) if worker_channels is None else worker_channels
        )
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Schedules every loop on the running event loop and returns at once."""
        for path in self.services:
            loop_function: ServiceLoop = import_string(path)
            self.tasks.append(asyncio.create_task(self._supervise(path, loop_function), name=path))
        if self.worker_channels:
            worker = self._supervise("channels-worker", self._run_worker)
            self.tasks.append(asyncio.create_task(worker, name="channels-worker"))
        logger.info(
            "Background services started: %s",
            ", ".join(self.services + [f"worker({c})" for c in self.worker_channels]) or "none",
        )

    async def stop(self, grace: float = 10.0) -> None:
        """Asks every loop to finish, waits up to `grace` seconds, then cancels what is left."""
        self.stop_event.set()
        loops = [task for task in self.tasks if task.get_name() != "channels-worker"]
        if loops:
            _, pending = await asyncio.wait(loops, timeout=grace)
            for task in pending:
                task.cancel()
        spawned = list(_tracked)
        for task in self.tasks + spawned:
            task.cancel()  # the worker has no stop of its own; spawned work hands its task over
        await asyncio.gather(*self.tasks, *spawned, return_exceptions=True)
        logger.info("Background services stopped")

    async def _supervise(self, name: str, loop_function: ServiceLoop) -> None:
        while not self.stop_event.is_set():
            try:
                await loop_function(self.stop_event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("Background service %s crashed; restarting", name)
                try:
                    await asyncio.wait_for(self.stop_event.wait(), RESTART_DELAY)
                except asyncio.TimeoutError:
                    pass

    async def _run_worker(self, stop: asyncio.Event) -> None:
        worker = Worker(
            application=self.application,
            channels=self.worker_channels,
            channel_layer=get_channel_layer(),
        )
        await worker.handle()
