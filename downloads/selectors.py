"""Reads of the URL cache: what a task is downloading, and how full the cache is."""

from __future__ import annotations

import uuid
from typing import Any

from downloads.models import CacheEntry, CacheUse


def task_download_progress(*, task_id: uuid.UUID) -> list[dict[str, Any]]:
    """One item per file of the task: `url, folder, status, bytes_done, bytes_total` (total is
    None until the server tells the size)."""
    uses = CacheUse.objects.filter(task_id=task_id).select_related("entry").order_by("pk")
    progress: list[dict[str, Any]] = []
    for use in uses:
        entry = use.entry
        ready = entry.status == CacheEntry.Status.READY
        progress.append(
            {
                "url": use.url,
                "folder": use.folder,
                "status": entry.status,
                "bytes_done": entry.size if ready else entry.bytes_done,
                "bytes_total": entry.size if ready else entry.bytes_total,
            }
        )
    return progress



