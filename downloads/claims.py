"""The database side of a download: pinning entries to a task, and the entry row as the lock that
makes one downloader per URL across tasks and processes.

A downloader owns an entry (`owner`, a token per attempt) and proves it is alive by refreshing
`heartbeat_at`; an owner silent for STALE_AFTER seconds is presumed dead and anyone may take over.
Every function here is a short transaction: none is held across network I/O.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal, Sequence

from django.db import IntegrityError, transaction
from django.utils import timezone

from comfy_router.counters import counter_add
from comfy_router.owners import owner_token
from downloads.models import CacheEntry, CacheLink, CacheUse
from downloads.naming import cache_file_name, cache_key
from downloads.storage import temp_path

STALE_AFTER = 20.0

Action = Literal["ready", "download", "wait", "failed"]


@dataclass(frozen=True)
class Wanted:
    url: str
    folder: str
    name: str

    @property
    def file_name(self) -> str:
        return cache_file_name(self.url)


@dataclass(frozen=True)
class Claim:
    action: Action
    entry_id: int
    owner: str = ""
    error: str = ""
    bytes_done: int = 0


def is_stale(entry: CacheEntry) -> bool:
    if not entry.owner or entry.heartbeat_at is None:
        return True
    return entry.heartbeat_at < timezone.now() - timedelta(seconds=STALE_AFTER)


def pin(*, task_id: uuid.UUID, wanted: Sequence[Wanted]) -> dict[str, int]:
    """Creates missing entries, pins every one to the task and stamps `last_used`; returns
    file name -> entry id. All in one transaction, so no entry of the task can be evicted
    between the first file's download and the last one's."""
    for attempt in range(5):
        try:
            return _pin(task_id, wanted)
        except IntegrityError:  # an entry was created or evicted concurrently: look again
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _pin(task_id: uuid.UUID, wanted: Sequence[Wanted]) -> dict[str, int]:
    now = timezone.now()
    ids: dict[str, int] = {}
    with transaction.atomic():
        for item in wanted:
            if item.file_name not in ids:
                entry, _ = CacheEntry.objects.get_or_create(
                    file_name=item.file_name, defaults={"key": cache_key(item.url)}
                )
                CacheEntry.objects.filter(pk=entry.pk).update(last_used=now)
                ids[item.file_name] = entry.pk
            CacheUse.objects.get_or_create(
                entry_id=ids[item.file_name],
                task_id=task_id,
                folder=item.folder,
                defaults={"url": item.url},
            )
    return ids


def claim(*, entry_id: int, owner: str, cache_file: Path, waited_on: str = "") -> Claim:
    """Decides what this task does for a pinned entry: use it, download it (taking ownership),
    wait for its live downloader, or fail with the error of the downloader it waited on."""
    with transaction.atomic():
        entry = CacheEntry.objects.select_for_update().get(pk=entry_id)
        if entry.status == CacheEntry.Status.READY and cache_file.is_file():
            return Claim("ready", entry_id)
        if entry.status == CacheEntry.Status.DOWNLOADING and not is_stale(entry):
            return Claim("wait", entry_id, owner=entry.owner, bytes_done=entry.bytes_done)
        if entry.status == CacheEntry.Status.FAILED and waited_on and entry.owner == waited_on:
            return Claim("failed", entry_id, owner=entry.owner, error=entry.error)
        if entry.status == CacheEntry.Status.DOWNLOADING and entry.owner:
            # The silent owner's half file; should it still be alive, it loses at mark_ready.
            dead = temp_path(cache_file.parent, entry.file_name, owner_token(entry.owner))
            dead.unlink(missing_ok=True)
        entry.status = CacheEntry.Status.DOWNLOADING
        entry.owner = owner
        entry.heartbeat_at = timezone.now()
        entry.bytes_done = 0
        entry.bytes_total = None
        entry.bytes_reserved = 0
        entry.error = ""
        entry.save(
            update_fields=[
                "status", "owner", "heartbeat_at", "bytes_done", "bytes_total", "bytes_reserved", "error"
            ]
        )
        return Claim("download", entry_id, owner=owner)


def heartbeat(*, entry_id: int, owner: str, bytes_done: int, bytes_total: int | None) -> bool:
    """False when another downloader took the entry over."""
    return bool(
        CacheEntry.objects.filter(pk=entry_id, owner=owner, status=CacheEntry.Status.DOWNLOADING)
        .update(heartbeat_at=timezone.now(), bytes_done=bytes_done, bytes_total=bytes_total)
    )


def reserve(*, entry_id: int, owner: str, room: int) -> bool:
    """Records the room the download has made; False when another downloader took it over."""
    return bool(
        CacheEntry.objects.filter(pk=entry_id, owner=owner, status=CacheEntry.Status.DOWNLOADING)
        .update(bytes_reserved=room)
    )


def mark_ready(*, entry_id: int, owner: str, temp_file: Path, cache_file: Path, size: int) -> bool:
    """Renames the finished temp file into place and marks the entry ready, if we still own it;
    otherwise discards the temp file and returns False."""
    now = timezone.now()
    with transaction.atomic():
        entry = (
            CacheEntry.objects.select_for_update()
            .filter(pk=entry_id, owner=owner, status=CacheEntry.Status.DOWNLOADING)
            .first()
        )
        if entry is None:
            temp_file.unlink(missing_ok=True)
            return False
        os.replace(temp_file, cache_file)
        CacheEntry.objects.filter(pk=entry_id).update(
            status=CacheEntry.Status.READY,
            size=size,
            bytes_done=size,
            bytes_total=size,
            heartbeat_at=None,
            completed_at=now,
            last_used=now,
            error="",
        )
        counter_add("downloads")
        counter_add("download_bytes", size)
    return True


def mark_failed(*, entry_id: int, owner: str, error: str) -> None:
    if CacheEntry.objects.filter(
        pk=entry_id, owner=owner, status=CacheEntry.Status.DOWNLOADING
    ).update(status=CacheEntry.Status.FAILED, error=error[:2000], heartbeat_at=None):
        counter_add("download_failures")


def give_up(*, entry_id: int, owner: str) -> None:
    """A cancelled downloader steps aside at once so a waiting task takes over without delay."""
    CacheEntry.objects.filter(
        pk=entry_id, owner=owner, status=CacheEntry.Status.DOWNLOADING
    ).update(owner="", heartbeat_at=None)


def record_link(*, entry_id: int, folder: str, name: str) -> None:
    now = timezone.now()
    CacheLink.objects.update_or_create(folder=folder, name=name, defaults={"entry_id": entry_id})
    CacheEntry.objects.filter(pk=entry_id).update(last_used=now)


def is_pinned(*, entry_id: int, task_id: uuid.UUID | None = None) -> bool:
    """Whether a task (`task_id`, or any) still needs the entry: pins go when a task ends."""
    uses = CacheUse.objects.filter(entry_id=entry_id)
    if task_id is not None:
        uses = uses.filter(task_id=task_id)
    return uses.exists()


def unpin(*, task_id: uuid.UUID) -> int:
    deleted, _ = CacheUse.objects.filter(task_id=task_id).delete()
    return deleted
