"""`python manage.py worker`: the router's background work without an HTTP server — the health
monitor, the dispatcher, the download cache's start-up and the Channels worker that runs tasks.
Scale-out runs any number of these beside any number of `daphne comfy_router.asgi:application`
API processes, all on one PostgreSQL database and one Redis channel layer. Stops cleanly on
SIGTERM/SIGINT: running tasks are handed over (their prompts go on on the nodes)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from comfy_router.background import BackgroundServices


class Command(BaseCommand):
    help = "Run the background services and task executors (no HTTP server)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--migrate", action="store_true", help="Apply migrations before starting."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.ROUTER
        if config.channel_layer_url.startswith("memory://"):
            raise CommandError(
                "A worker needs a channel layer shared with the API processes: set "
                "COMFY_ROUTER__CHANNEL_LAYER_URL=redis://… (or run `manage.py serve` alone)"
            )
        if options["migrate"]:
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Comfy Router worker started")
        self.stdout.flush()
        asyncio.run(run_until_signalled())
        self.stdout.write("Comfy Router worker stopped")


async def run_until_signalled() -> None:
    services = BackgroundServices()
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
