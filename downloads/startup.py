"""Bringing the cache and its database rows back into agreement when a router starts, and adopting
the original router's record once so an existing cache is not downloaded again."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from datetime import datetime
from datetime import timezone as dt_timezone
from pathlib import Path

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import IntegrityError, transaction

from comfy_router.owners import owner_token
from downloads.claims import is_stale
from downloads.eviction import EntryPinned, entry_delete, evict
from downloads.models import AdoptedRecord, CacheEntry, CacheUse
from downloads.naming import cache_file_name, cache_key
from downloads.record import read_record
from downloads.storage import cache_path, parse_temp_name

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReconcileReport:
    dropped_entries: int
    removed_temp_files: int


def cache_reconcile() -> ReconcileReport:
    """1. Ready entries whose file vanished are dropped (or, when pinned, marked failed so the
       next task downloads them again).
    2. Downloads whose owner stopped beating and that nobody needs are dropped.
    3. Temp files no live downloader owns are removed."""
    cache_dir = settings.ROUTER.cache_dir
    dropped = 0
    for entry in CacheEntry.objects.filter(status=CacheEntry.Status.READY):
        if cache_path(cache_dir, entry.file_name).is_file():
            continue
        try:
            if entry_delete(entry_id=entry.pk) is not None:
                dropped += 1
        except EntryPinned:
            CacheEntry.objects.filter(pk=entry.pk, status=CacheEntry.Status.READY).update(
                status=CacheEntry.Status.FAILED, owner="", error="the cached file vanished"
            )
    for entry in CacheEntry.objects.exclude(status=CacheEntry.Status.READY):
        unpinned = not CacheUse.objects.filter(entry=entry).exists()
        if unpinned and (entry.status == CacheEntry.Status.FAILED or is_stale(entry)):
            entry_delete(entry_id=entry.pk, only_ready=False)
            dropped += 1
    live_tokens = {
        (entry.file_name, owner_token(entry.owner))
        for entry in CacheEntry.objects.filter(status=CacheEntry.Status.DOWNLOADING)
        if not is_stale(entry)
    }
    removed = 0
    if cache_dir.is_dir():
        for path in cache_dir.iterdir():
            parsed = parse_temp_name(path.name)
            if parsed is not None and parsed not in live_tokens:
                path.unlink(missing_ok=True)
                removed += 1
    return ReconcileReport(dropped_entries=dropped, removed_temp_files=removed)


def record_fingerprint(path: Path) -> str:
    stat = path.stat()
    identity = f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    return hashlib.sha256(identity.encode()).hexdigest()


def cache_adopt_record(*, record_path: Path | None = None) -> int:
    """Adopts the completed entries of the original router's record whose files are in the cache
    dir: each file is renamed to our stable name and gets a ready entry. Returns how many;
    a record already adopted (same path, size and mtime) is skipped."""
    config = settings.ROUTER
    path = config.record_path if record_path is None else record_path
    if not path.is_file():
        return 0
    fingerprint = record_fingerprint(path)
    if AdoptedRecord.objects.filter(fingerprint=fingerprint).exists():
        return 0
    try:
        recorded = read_record(path)
    except (ValueError, OSError) as exc:
        logger.warning("Cannot read the original router's record %s: %s", path, exc)
        return 0
    cache_dir = config.cache_dir.resolve()
    adopted = 0
    for item in recorded:
        source = Path(item.path)
        source = (source if source.is_absolute() else cache_dir / source).resolve()
        if not source.is_relative_to(cache_dir) or not source.is_file():
            continue
        size = source.stat().st_size
        if item.size is not None and item.size != size:
            continue
        if _adopt_file(item.url, source, size):
            adopted += 1
    try:
        AdoptedRecord.objects.create(fingerprint=fingerprint, path=str(path), entries=adopted)
    except IntegrityError:  # another router adopted it at the same moment
        pass
    logger.info("Adopted %d cached files from the original router's record %s", adopted, path)
    return adopted


def _adopt_file(url: str, source: Path, size: int) -> bool:
    if not url.lower().startswith(("http://", "https://")):
        return False
    file_name = cache_file_name(url)
    target = cache_path(settings.ROUTER.cache_dir, file_name).resolve()
    used = datetime.fromtimestamp(source.stat().st_mtime, tz=dt_timezone.utc)
    with transaction.atomic():
        if CacheEntry.objects.filter(file_name=file_name, status=CacheEntry.Status.READY).exists():
            return False
        if source != target:
            os.replace(source, target)
        CacheEntry.objects.update_or_create(
            file_name=file_name,
            defaults={
                "key": cache_key(url),
                "status": CacheEntry.Status.READY,
                "size": size,
                "bytes_done": size,
                "bytes_total": size,
                "owner": "",
                "heartbeat_at": None,
                "last_used": used,
                "completed_at": used,
                "error": "",
            },
        )
    return True


def cache_start() -> None:
    config = settings.ROUTER
    config.cache_dir.mkdir(parents=True, exist_ok=True)
    report = cache_reconcile()
    if report.dropped_entries or report.removed_temp_files:
        logger.info(
            "Cache reconciled: %d entries dropped, %d leftover temp files removed",
            report.dropped_entries,
            report.removed_temp_files,
        )
    cache_adopt_record()
    evict(max_bytes=config.max_cache_bytes)


async def run(stop: asyncio.Event) -> None:
    """Background service: reconciles the cache once at start, then has nothing more to do.
    A failure is logged, not raised: restarting would only repeat it every second."""
    try:
        await database_sync_to_async(cache_start)()
    except Exception:
        logger.exception("Reconciling the download cache at start failed")
