"""`python manage.py prune_cache [--max-bytes N] [--dry-run]`: applies the cache limit by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from comfy_router.sizes import format_size, parse_size
from downloads.services import cache_prune


def _size(value: int) -> str:
    human = format_size(value)
    return human if human.endswith("bytes") else f"{human} ({value} bytes)"


class Command(BaseCommand):
    help = (
        "Delete least recently used cache entries that no unfinished task needs until the cache "
        "fits COMFY_ROUTER__DOWNLOAD__MAX_CACHE_BYTES (or --max-bytes)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--max-bytes",
            type=parse_size,
            default=None,
            help="Limit to apply instead of the configured one (64GiB, 500MB or bytes).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would go; delete nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_bytes"] is not None and options["max_bytes"] < 0:
            raise CommandError("--max-bytes must be >= 0")
        report = cache_prune(max_bytes=options["max_bytes"], dry_run=options["dry_run"])
        verb = "Would remove" if report.dry_run else "Removed"
        self.stdout.write(f"Limit:  {_size(report.limit)}")
        self.stdout.write(f"Before: {_size(report.bytes_before)}")
        for entry in report.removed:
            used = entry.last_used.isoformat() if entry.last_used else "never"
            self.stdout.write(f"{verb} {entry.key} ({_size(entry.size)}, last used {used})")
        if not report.removed:
            self.stdout.write("Nothing to remove.")
        label = "After (dry run)" if report.dry_run else "After"
        self.stdout.write(f"{label}: {_size(report.bytes_after)}")
        if report.bytes_after > report.limit:
            self.stdout.write(
                f"Still over the limit: {_size(report.pinned_bytes)} are pinned by unfinished tasks."
            )
