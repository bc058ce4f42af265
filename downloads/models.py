"""The URL cache in the database: one CacheEntry per cached URL (the row is also the download lock),
the tasks that pin it (CacheUse), the ComfyUI folders it is linked into (CacheLink), and the
original router's records already adopted (AdoptedRecord)."""

from __future__ import annotations

from django.db import models


class CacheEntry(models.Model):
    class Status(models.TextChoices):
        DOWNLOADING = "downloading"
        READY = "ready"
        FAILED = "failed"

    # The file name derives from the key (downloads.naming), so it identifies the entry on a
    # shared disk; the key itself may be too long for a portable unique index.
    file_name = models.CharField(max_length=64, unique=True)
    key = models.TextField(
        help_text="The URL less its fragment and its signature and expiry parameters, the other "
        "query parameters sorted by name (downloads.naming.cache_key)."
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DOWNLOADING)
    size = models.BigIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(null=True, blank=True)
    # Room made for the download so far: what it may write before it asks again (downloads.fetch).
    bytes_reserved = models.BigIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    # Who downloads it now ("host:pid:token") and when that downloader last said it is alive.
    owner = models.CharField(max_length=128, blank=True, default="")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    last_used = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "cache entry"
        verbose_name_plural = "cache entries"
        ordering = ["-last_used"]

    def __str__(self) -> str:
        return self.key


class CacheUse(models.Model):
    """A task that needs the entry: pinned entries are never evicted. The task lives in another app
    and may be gone, so only its id is kept."""

    entry = models.ForeignKey(CacheEntry, on_delete=models.CASCADE, related_name="uses")
    task_id = models.UUIDField(db_index=True)
    url = models.TextField()
    folder = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["entry", "task_id", "folder"], name="downloads_cacheuse_unique"
            )
        ]


class CacheLink(models.Model):
    """`ROOT_DIR/<folder>/<name>` points at the entry's file; removed with the entry."""

    entry = models.ForeignKey(CacheEntry, on_delete=models.CASCADE, related_name="links")
    folder = models.CharField(max_length=64)
    name = models.CharField(max_length=255)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["folder", "name"], name="downloads_cachelink_unique")
        ]

    def __str__(self) -> str:
        return f"{self.folder}/{self.name}"


class AdoptedRecord(models.Model):
    """A record file of the original router, identified by path, size and mtime, adopted once."""

    fingerprint = models.CharField(max_length=64, unique=True)
    path = models.TextField()
    entries = models.IntegerField(default=0)
    adopted_at = models.DateTimeField(auto_now_add=True)
