"""`python manage.py alive [--pid N]`: exits 0 when router process N (1 by default: a
container's main process) touched its heartbeat file within the last STALE_AFTER seconds, else
1 with the reason; a health check for `worker`, which has no HTTP port (comfy_router.heartbeat)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comfy_router.heartbeat import STALE_AFTER, heartbeat_path, seconds_since_beat


class Command(BaseCommand):
    help = "Exit 0 if the router process (PID 1 by default) shows its heartbeat, else 1."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--pid", type=int, default=1, help="The router process (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        pid = options["pid"]
        age = seconds_since_beat(pid)
        if age is None:
            raise CommandError(f"No heartbeat from process {pid} ({heartbeat_path(pid)})")
        if age > STALE_AFTER:
            raise CommandError(f"Process {pid}'s last heartbeat is {age:.0f} s old")
        self.stdout.write(f"Process {pid} alive ({age:.1f} s since its heartbeat)")
