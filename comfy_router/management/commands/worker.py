"""`python manage.py worker`: the router's background work without an HTTP server — the health
monitor, the dispatcher, the download cache's start-up and the Channels worker that runs tasks.
Scale-out runs any number of these beside any number of `daphne comfy_router.asgi:application`
API processes, all on one PostgreSQL database and one Redis channel layer. Stops cleanly on
SIGTERM/SIGINT: running tasks are handed over (their prompts go on on the nodes)."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from comfy_router.background import BackgroundServices
from comfy_router.logs import tell_operator
from comfy_router.startup_checks import StartupCheckFailed, check_all

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the background services and task executors (no HTTP server)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--migrate", action="store_true", help="Apply migrations before starting."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.ROUTER
        for line in config.unknown_variables:
            logger.warning(line)
        if not config.scaled_out:
            raise CommandError(
                "A worker needs a channel layer shared with the API processes: set "
                "COMFY_ROUTER__CHANNEL_LAYER_URL=redis://… (or run `manage.py serve` alone)"
            )
        try:
            check_all(config, listens=False)
        except StartupCheckFailed as problem:
            raise CommandError(str(problem)) from None
        if options["migrate"]:
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
        # The executors run the ASGI application; loading it now, with everything else, freezes
        # the startup heap once (see comfy_router.asgi and comfy_router.heap).
        from comfy_router.asgi import application

        tell_operator(self, config, "Comfy Router worker started")
        run_to_end(run_until_signalled(application))
        tell_operator(self, config, "Comfy Router worker stopped")


LEFTOVER_GRACE = 5.0  # seconds tasks still running after the services stopped get to finish


def run_to_end(main: Coroutine[Any, Any, None]) -> None:
    """`asyncio.run`, except that the tasks left when `main` returns get LEFTOVER_GRACE seconds
    to finish once cancelled, not forever: a Redis command cancelled while its connection opens
    can hang (channels-redis' receive in redis-py), and SIGTERM must still end the process."""
    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(main)
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            _, stuck = loop.run_until_complete(asyncio.wait(leftovers, timeout=LEFTOVER_GRACE))
            for task in stuck:
                logger.warning("Left running at exit: %s", task.get_coro())
                task.add_done_callback(_forget)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()


def _forget(task: asyncio.Task[Any]) -> None:
    """What a task left running at exit raises as the loop closes is of no interest."""
    if not task.cancelled():
        task.exception()


async def run_until_signalled(application: Any) -> None:
    services = BackgroundServices(application)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    services.start()
    try:
        await stopping.wait()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await services.stop()
