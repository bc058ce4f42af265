"""Keeping the cache under its limit: least recently *used* ready entries that no task pins go
first. Every deletion locks the entry row and re-checks the pins, so a task that pins an entry
concurrently either wins (the entry stays) or finds it gone (and downloads it again)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Sum
from django.db.models.functions import Greatest

from comfy_router.counters import counter_add
from downloads.models import CacheEntry, CacheUse
from downloads.storage import cache_path, remove_link

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvictedEntry:
    key: str
    file_name: str
    size: int
    last_used: datetime | None


class EntryPinned(Exception):
    pass


def ready_bytes() -> int:
    total = CacheEntry.objects.filter(status=CacheEntry.Status.READY).aggregate(total=Sum("size"))
    return int(total["total"] or 0)


def reserved_bytes(*, exclude_id: int | None = None) -> int:
    """The room downloads in progress have made (at least what they have so far): bytes that
    arrived, never a Content-Length, which a server may announce and not send."""
    downloads = CacheEntry.objects.filter(status=CacheEntry.Status.DOWNLOADING).exclude(owner="")
    if exclude_id is not None:
        downloads = downloads.exclude(pk=exclude_id)
    total = downloads.aggregate(total=Sum(Greatest("bytes_reserved", "bytes_done")))
    return int(total["total"] or 0)


def pinned_bytes() -> int:
    pinned = CacheEntry.objects.filter(status=CacheEntry.Status.READY).filter(
        Exists(CacheUse.objects.filter(entry=OuterRef("pk")))
    )
    return int(pinned.aggregate(total=Sum("size"))["total"] or 0)


def eviction_candidates() -> list[CacheEntry]:
    """Unpinned ready entries, least recently used first (never-used ones before all others)."""
    return list(
        CacheEntry.objects.filter(status=CacheEntry.Status.READY)
        .filter(~Exists(CacheUse.objects.filter(entry=OuterRef("pk"))))
        .order_by(F("last_used").asc(nulls_first=True), "pk")
    )


def entry_delete(*, entry_id: int, only_ready: bool = True) -> int | None:
    """Deletes an unpinned entry with its file and links; returns the bytes freed, or None when the
    entry is gone or (with `only_ready`) not ready. Raises EntryPinned for a pinned entry.

    The file and links go while the row is locked, so no task can pin the entry halfway."""
    config = settings.ROUTER
    with transaction.atomic():
        entry = CacheEntry.objects.select_for_update().filter(pk=entry_id).first()
        if entry is None or (only_ready and entry.status != CacheEntry.Status.READY):
            return None
        if CacheUse.objects.filter(entry_id=entry_id).exists():
            raise EntryPinned(entry.key)
        target = cache_path(config.cache_dir, entry.file_name)
        for link in entry.links.all():
            remove_link(config.root_dir, link.folder, link.name, target)
        target.unlink(missing_ok=True)
        entry.delete()
    return entry.size if entry.status == CacheEntry.Status.READY else 0


def evict(
    *, max_bytes: int, incoming: int = 0, exclude_id: int | None = None, dry_run: bool = False
) -> list[EvictedEntry]:
    """Frees room until ready + in-progress (their room) + `incoming` bytes fit in `max_bytes`.
    Pinned entries are kept even when that leaves the cache over its limit."""
    used = ready_bytes() + reserved_bytes(exclude_id=exclude_id) + incoming
    excess = used - max_bytes
    evicted: list[EvictedEntry] = []
    if excess <= 0:
        return evicted
    for entry in eviction_candidates():
        if excess <= 0:
            break
        if dry_run:
            freed: int | None = entry.size
        else:
            try:
                freed = entry_delete(entry_id=entry.pk)
            except EntryPinned:
                continue
        if freed is None:
            continue
        excess -= freed
        evicted.append(EvictedEntry(entry.key, entry.file_name, entry.size, entry.last_used))
        if not dry_run:
            counter_add("cache_evictions")
            counter_add("cache_evicted_bytes", freed)
            logger.info("Evicted %s (%d bytes, last used %s)", entry.key, entry.size, entry.last_used)
    if excess > 0 and not dry_run:
        logger.warning(
            "Cache is %d bytes over its limit of %d: the rest is pinned by unfinished tasks "
            "or being downloaded, and is kept until they end",
            excess,
            max_bytes,
        )
    return evicted


def cache_file(entry: CacheEntry) -> Path:
    return cache_path(settings.ROUTER.cache_dir, entry.file_name)
