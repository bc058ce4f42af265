"""`python manage.py import_nodes`: register many nodes at once, idempotently.

    import_nodes http://gpu-1:8188 http://gpu-2:8188
    import_nodes --file nodes.txt          # one URL per line; blank lines and # comments skipped
    import_nodes --file nodes.json         # [{"url": ..., "name": ..., "token": ..., "labels": [...]}]
    cat nodes.txt | import_nodes -         # or --file -

Every entry is validated before anything is written: one bad line fails the whole import,
naming the line, and nothing is imported.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from nodes.labels import clean_labels
from nodes.models import Node
from nodes.node_url import InvalidNodeURL, normalize_node_url
from nodes.probe import validate_token
from nodes.services import Outcome, node_check_many, node_upsert

STDIN = "-"


@dataclass(frozen=True)
class Entry:
    url: str
    name: str
    token: str
    labels: list[str] | None  # None: leave a registered node's labels as they are
    origin: str


class Command(BaseCommand):
    help = "Register ComfyUI nodes from arguments, a file (lines or a JSON list) or stdin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("urls", nargs="*", metavar="URL", help="Node URLs; '-' reads stdin.")
        parser.add_argument(
            "--file",
            action="append",
            default=[],
            metavar="PATH",
            help="One URL per line, or a JSON list of {url, name, token, labels}; '-' reads stdin.",
        )
        parser.add_argument(
            "--no-check", action="store_true", help="Don't ask new nodes for /system_stats now."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        urls: list[str] = options["urls"]
        files = list(dict.fromkeys(options["file"] + ([STDIN] if STDIN in urls else [])))
        entries: list[Entry] = []
        errors: list[str] = []
        for position, raw in enumerate((url for url in urls if url != STDIN), start=1):
            self._collect(raw, {}, f"argument {position}", entries, errors)
        for file_name in files:
            label = "stdin" if file_name == STDIN else file_name
            for raw, extra, origin in read_source(_read_text(file_name), label, errors):
                self._collect(raw, extra, origin, entries, errors)
        if errors:
            raise CommandError("Nothing imported:\n  " + "\n  ".join(errors))
        if not entries:
            raise CommandError("No node URLs given: pass URLs, --file PATH or '-' for stdin.")

        results: list[tuple[Entry, Node | None, Outcome | str]] = []
        seen: dict[str, str] = {}
        with transaction.atomic():
            for entry in entries:
                if entry.url in seen:
                    results.append((entry, None, f"duplicate of {seen[entry.url]}"))
                    continue
                seen[entry.url] = entry.origin
                node, outcome = node_upsert(
                    url=entry.url, name=entry.name, token=entry.token, labels=entry.labels
                )
                results.append((entry, node, outcome))
        changed = [node for _, node, outcome in results if node and outcome != "unchanged"]
        if changed and not options["no_check"]:
            node_check_many(nodes=changed, timeout=settings.ROUTER.health_timeout)
        statuses = dict(
            Node.objects.filter(pk__in=[n.pk for n in changed]).values_list("pk", "status")
        )
        self._report(results, statuses)

    def _collect(
        self, raw: Any, extra: dict[str, Any], origin: str, entries: list[Entry], errors: list[str]
    ) -> None:
        token = extra.get("token", "")
        labels = None
        try:
            url = normalize_node_url(raw if isinstance(raw, str) else "")
            validate_token(token)
            if "labels" in extra:
                labels = clean_labels(extra["labels"])
        except InvalidNodeURL as error:
            errors.append(f"{origin}: {error}")
            return
        except ValidationError as error:
            errors.append(f"{origin}: {' '.join(error.messages)}")
            return
        entries.append(Entry(url, extra.get("name", ""), token, labels, origin))

    def _report(
        self, results: list[tuple[Entry, Node | None, Outcome | str]], statuses: dict[int, str]
    ) -> None:
        counts = {"added": 0, "updated": 0, "skipped": 0}
        for entry, node, outcome in results:
            if node is not None and outcome in ("added", "updated"):
                counts[outcome] += 1
                self.stdout.write(f"{outcome} {entry.url} ({statuses.get(node.pk, node.status)})")
            else:
                counts["skipped"] += 1
                reason = "already registered" if outcome == "unchanged" else outcome
                self.stdout.write(f"skipped {entry.url} ({reason})")
        self.stdout.write(self.style.SUCCESS(", ".join(f"{n} {k}" for k, n in counts.items())))


def _read_text(file_name: str) -> str:
    if file_name == STDIN:
        return sys.stdin.read()
    try:
        return Path(file_name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"Nothing imported: cannot read {file_name}: {error}") from None


def read_source(text: str, label: str, errors: list[str]) -> list[tuple[Any, dict[str, Any], str]]:
    """(url, {name, token, labels}, origin) per entry of a file; problems go to `errors`."""
    if text.lstrip().startswith("["):
        return _read_json(text, label, errors)
    entries: list[tuple[Any, dict[str, Any], str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            entries.append((stripped, {}, f"{label} line {number}"))
    return entries


def _read_json(text: str, label: str, errors: list[str]) -> list[tuple[Any, dict[str, Any], str]]:
    try:
        items = json.loads(text)
    except ValueError as error:
        errors.append(f"{label}: not valid JSON ({error})")
        return []
    if not isinstance(items, list):
        errors.append(f"{label}: expected a JSON list of {{url, name, token, labels}} objects")
        return []
    entries: list[tuple[Any, dict[str, Any], str]] = []
    for number, item in enumerate(items, start=1):
        origin = f"{label} item {number}"
        if isinstance(item, str):
            entries.append((item, {}, origin))
            continue
        problem = _json_item_problem(item)
        if problem:
            errors.append(f"{origin}: {problem}")
            continue
        extra = {key: item[key] for key in ("name", "token", "labels") if key in item}
        entries.append((item["url"], extra, origin))
    return entries


def _json_item_problem(item: Any) -> str:
    if not isinstance(item, dict):
        return "expected an object with a url"
    unknown = sorted(set(item) - {"url", "name", "token", "labels"})
    if unknown:
        return f"unknown key(s) {', '.join(unknown)}"
    if not isinstance(item.get("url"), str):
        return "url must be a string"
    limits = {"name": 200, "token": 500}
    for key, limit in limits.items():
        value = item.get(key, "")
        if not isinstance(value, str) or len(value) > limit:
            return f"{key} must be a string of at most {limit} characters"
    if not isinstance(item.get("labels", []), list):
        return "labels must be a list of strings"
    return ""
