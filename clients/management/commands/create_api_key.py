"""`python manage.py create_api_key CLIENT`: a new API key for the client of that name, printed
once on stdout and nothing else (so `KEY=$(manage.py create_api_key team-a)` works); only its
digest is kept."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from clients.models import Client
from clients.services import api_key_create


class Command(BaseCommand):
    help = "Make an API key for a client and print it; it cannot be shown again."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("client", help="The client's name.")

    def handle(self, *args: Any, **options: Any) -> None:
        client = Client.objects.filter(name=options["client"]).first()
        if client is None:
            raise CommandError(f"No client named {options['client']!r} (create_client makes one).")
        api_key, key = api_key_create(client=client)
        self.stderr.write(f"API key {api_key.prefix}… made for {client.name}; it is shown once.")
        self.stdout.write(key)
