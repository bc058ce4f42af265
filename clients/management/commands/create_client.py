"""`python manage.py create_client NAME [--priority N] [--pending-limit N] [--notes TEXT]`:
a new client, without keys (`create_api_key NAME` makes one)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients.services import client_create


class Command(BaseCommand):
    help = "Create a client of the router; make its API keys with create_api_key."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--priority", type=int, default=0, help="Higher goes first (0).")
        parser.add_argument(
            "--pending-limit",
            type=int,
            default=None,
            help="How many of its tasks may wait at once (default: PENDING_LIMIT).",
        )
        parser.add_argument("--notes", default="")
        parser.add_argument("--disabled", action="store_true", help="Refuse its keys for now.")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            client = client_create(
                name=options["name"],
                priority=options["priority"],
                pending_limit=options["pending_limit"],
                notes=options["notes"],
                enabled=not options["disabled"],
            )
        except ValidationError as invalid:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in invalid.message_dict.items()
            )
            raise CommandError(problems) from None
        self.stdout.write(f"created client {client.name} (id {client.pk})")
