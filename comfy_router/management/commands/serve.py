"""`python manage.py serve`: the whole router in one process — Daphne on HOST:PORT plus the
background services on the same event loop. Migrates first; stops cleanly on SIGTERM/SIGINT.

`serve --api-only` is one API process of a scaled-out router: Daphne only, beside any number of
`manage.py worker` processes. Both install comfy_router.server_patches before Daphne starts."""

from __future__ import annotations

import argparse
import asyncio
import logging
import resource
from typing import Any

import daphne.server  # noqa: F401  (installs the asyncio reactor before anything imports twisted)
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from twisted.internet import defer, reactor

from comfy_router.background import BackgroundServices
from comfy_router.logs import tell_operator
from comfy_router.server_patches import PatchNotInstallable, install_server_patches
from comfy_router.startup_checks import StartupCheckFailed, check_all

logger = logging.getLogger(__name__)

# Autobahn aborts a websocket (TCP reset) when the client has not answered the server's close
# frame within its default one second (WebSocketServerFactory.closeHandshakeTimeout,
# https://github.com/crossbario/autobahn-python/blob/v26.11.1/autobahn/websocket/protocol.py#L3751),
# and a reset makes the client's kernel drop what it had not read yet: a busy client could lose
# the final event of `WS /ws/workflow/{id}`, sent just before the close.
CLOSE_HANDSHAKE_SECONDS = 15.0


def default_max_connections() -> int:
    """1000, or half the open-file limit when that is lower: the other half is for the database,
    the nodes, downloads and the cache."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 1000
    return max(1, min(1000, soft // 2))


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def browsable_host(host: str) -> str:
    """The host to put in a URL a person clicks: a wildcard address is this machine."""
    if host in ("0.0.0.0", "::", ""):
        return "localhost"
    return f"[{host}]" if ":" in host else host


def endpoint_description(host: str, port: int) -> str:
    return f"tcp:port={port}:interface={host.replace(':', chr(92) + ':')}"


def close_websockets_patiently(server: daphne.server.Server) -> None:
    """Gives clients CLOSE_HANDSHAKE_SECONDS to answer a close frame, through autobahn's public
    `setProtocolOptions` on the websocket factory Daphne has just built (it calls this as its
    `ready_callable`, before it accepts a connection)."""
    server.ws_factory.setProtocolOptions(closeHandshakeTimeout=CLOSE_HANDSHAKE_SECONDS)


def run_background_services_with_the_reactor(application: Any) -> None:
    services = BackgroundServices(application)

    def start_services() -> None:
        # Startup triggers fire before the asyncio loop runs: start on its first turn.
        asyncio.get_event_loop().call_soon(services.start)

    def stop_services() -> defer.Deferred[None]:
        return defer.Deferred.fromFuture(asyncio.ensure_future(services.stop()))

    reactor.callWhenRunning(start_services)
    reactor.addSystemEventTrigger("before", "shutdown", stop_services)


class Command(BaseCommand):
    help = "Run the router: HTTP + websockets (Daphne) and the background services, one process."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-migrate", action="store_true", help="Skip `migrate` at start.")
        parser.add_argument(
            "--api-only",
            action="store_true",
            help="Serve HTTP and websockets only, as one API process of a scaled-out router "
            "beside `worker` processes: no background services, no `migrate`.",
        )
        parser.add_argument(
            "--max-connections",
            type=positive_int,
            default=default_max_connections(),
            help="Connections open at once (HTTP and websockets); past it new ones are closed "
            "at once and the log says so. Default: 1000, or half the process's open-file limit "
            "if that is lower.",
        )
        parser.add_argument(
            "--headers-timeout",
            type=positive_float,
            default=20.0,
            help="Seconds a request's headers may take to arrive, from its first byte; past it "
            "the connection gets a 408 and is closed. Default: 20.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = settings.ROUTER
        for line in config.unknown_variables:
            logger.warning(line)
        try:
            install_server_patches(
                max_body_bytes=config.max_request_bytes,
                max_connections=options["max_connections"],
                headers_timeout=options["headers_timeout"],
            )
        except PatchNotInstallable as error:
            raise CommandError(str(error)) from None
        if options["api_only"] and not config.scaled_out:
            raise CommandError(
                "An API process needs a channel layer shared with the workers: set "
                "COMFY_ROUTER__CHANNEL_LAYER_URL=redis://… (or run `manage.py serve` alone)"
            )
        try:
            check_all(config, listens=True)
        except StartupCheckFailed as problem:
            raise CommandError(str(problem)) from None
        if not (options["api_only"] or options["no_migrate"]):
            call_command("migrate", interactive=False, verbosity=0)
        from comfy_router.asgi import application

        server = daphne.server.Server(
            application=application,
            endpoints=[endpoint_description(config.host, config.port)],
            signal_handlers=True,
            verbosity=0,
            application_close_timeout=5,
            ready_callable=lambda: close_websockets_patiently(server),
        )
        if not options["api_only"]:
            run_background_services_with_the_reactor(application)
        here = f"http://{browsable_host(config.host)}:{config.port}"
        tell_operator(self, config, f"Comfy Router listening on http://{config.host}:{config.port}")
        tell_operator(self, config, f"  admin: {here}/admin/   API docs: {here}/doc")
        if (config.username, config.password) == ("admin", "admin"):
            tell_operator(
                self,
                config,
                "  WARNING: the default credentials admin/admin are in use: set "
                "COMFY_ROUTER__USERNAME and COMFY_ROUTER__PASSWORD before anyone else can reach it",
                level=logging.WARNING,
            )
        if not (config.root_dir / "models").is_dir():
            # The one thing a deployment must get right: a model or image given by URL is linked
            # there, and a node that does not see that folder fails the prompt.
            tell_operator(
                self,
                config,
                f"  WARNING: COMFY_ROUTER__DOWNLOAD__ROOT_DIR={config.root_dir} has no models/ "
                "folder: set it to ComfyUI's base directory, shared with the nodes",
                level=logging.WARNING,
            )
        server.run()
        if not server.listening_addresses:
            raise CommandError(f"Could not listen on {config.host}:{config.port}")
        tell_operator(self, config, "Comfy Router stopped")
