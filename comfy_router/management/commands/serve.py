"""`python manage.py serve`: the whole router in one process — Daphne on HOST:PORT plus the
background services on the same event loop. Migrates first; stops cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import daphne.server  # noqa: F401  (installs the asyncio reactor before anything imports twisted)
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from twisted.internet import defer, reactor

from comfy_router.background import BackgroundServices
from comfy_router.bounded_daphne import install_daphne_body_limit

logger = logging.getLogger(__name__)


def endpoint_description(host: str, port: int) -> str:
    return f"tcp:port={port}:interface={host.replace(':', chr(92) + ':')}"


class Command(BaseCommand):
    help = "Run the router: HTTP + websockets (Daphne) and the background services, one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-migrate", action="store_true", help="Skip `migrate` at start.")

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.ROUTER
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        from comfy_router.asgi import application

        services = BackgroundServices()
        install_daphne_body_limit(config.max_request_bytes)
        server = daphne.server.Server(
            application=application,
            endpoints=[endpoint_description(config.host, config.port)],
            signal_handlers=True,
            verbosity=0,
            application_close_timeout=5,
        )

        def start_services() -> None:
            # Startup triggers fire before the asyncio loop runs: start on its first turn.
            asyncio.get_event_loop().call_soon(services.start)

        def stop_services() -> defer.Deferred[None]:
            return defer.Deferred.fromFuture(asyncio.ensure_future(services.stop()))

        reactor.callWhenRunning(start_services)
        reactor.addSystemEventTrigger("before", "shutdown", stop_services)
        self.stdout.write(f"Comfy Router listening on http://{config.host}:{config.port}")
        self.stdout.flush()
        server.run()
        if not server.listening_addresses:
            raise CommandError(f"Could not listen on {config.host}:{config.port}")
        self.stdout.write("Comfy Router stopped")
