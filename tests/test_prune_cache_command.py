"""`manage.py prune_cache` applies the limit (or --max-bytes), least recently used first, keeps
pinned entries, prints sizes before and after; --dry-run only lists."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from downloads.models import CacheEntry, CacheLink, CacheUse
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401

pytestmark = pytest.mark.django_db


def cached(dirs: CacheDirs, name: str, size: int, hours_ago: int) -> CacheEntry:
    (dirs.cache_dir / name).write_bytes(b"x" * size)
    link = dirs.root_dir / "models/loras" / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(dirs.cache_dir / name)
    entry = CacheEntry.objects.create(
        file_name=name,
        key=f"https://example.com/{name}",
        status=CacheEntry.Status.READY,
        size=size,
        last_used=timezone.now() - timedelta(hours=hours_ago),
    )
    CacheLink.objects.create(entry=entry, folder="models/loras", name=name)
    return entry


def prune(*args: str) -> str:
    out = io.StringIO()
    call_command("prune_cache", *args, stdout=out)
    return out.getvalue()


def test_it_removes_least_recently_used_entries_down_to_the_given_limit(cache_dirs: CacheDirs) -> None:
    cached(cache_dirs, "old.bin", 1000, hours_ago=3)
    cached(cache_dirs, "mid.bin", 1000, hours_ago=2)
    cached(cache_dirs, "new.bin", 1000, hours_ago=1)

    output = prune("--max-bytes", "1500")

    assert "Before: 2.9 KiB (3000 bytes)" in output
    assert "Removed https://example.com/old.bin" in output
    assert "Removed https://example.com/mid.bin" in output
    assert "After: 1000 bytes\n" in output
    assert cache_dirs.files() == ["new.bin"]
    assert not (cache_dirs.root_dir / "models/loras/old.bin").is_symlink()
    assert list(CacheEntry.objects.values_list("file_name", flat=True)) == ["new.bin"]


def test_it_applies_the_configured_limit_by_default(cache_dirs: CacheDirs, settings: object) -> None:
    configure(settings, max_cache_bytes=2000)
    cached(cache_dirs, "old.bin", 1000, hours_ago=3)
    cached(cache_dirs, "mid.bin", 1000, hours_ago=2)
    cached(cache_dirs, "new.bin", 1000, hours_ago=1)

    output = prune()

    assert "Limit:  2.0 KiB (2000 bytes)" in output
    assert cache_dirs.files() == ["mid.bin", "new.bin"]


def test_a_dry_run_lists_what_would_go_and_deletes_nothing(cache_dirs: CacheDirs) -> None:
    cached(cache_dirs, "old.bin", 1000, hours_ago=3)
    cached(cache_dirs, "new.bin", 1000, hours_ago=1)

    output = prune("--max-bytes", "1000", "--dry-run")

    assert "Would remove https://example.com/old.bin" in output
    assert "After (dry run): 1000 bytes" in output
    assert cache_dirs.files() == ["new.bin", "old.bin"]
    assert CacheEntry.objects.count() == 2


def test_it_keeps_pinned_entries_and_says_the_cache_stays_over(cache_dirs: CacheDirs) -> None:
    old = cached(cache_dirs, "old.bin", 1000, hours_ago=3)
    CacheUse.objects.create(entry=old, task_id=uuid.uuid4(), url="https://example.com/old.bin", folder="models/loras")
    cached(cache_dirs, "new.bin", 1000, hours_ago=1)

    output = prune("--max-bytes", "0")

    assert "Removed https://example.com/new.bin" in output
    assert "Still over the limit" in output
    assert cache_dirs.files() == ["old.bin"]


def test_nothing_to_remove_under_the_limit(cache_dirs: CacheDirs) -> None:
    cached(cache_dirs, "new.bin", 1000, hours_ago=1)

    assert "Nothing to remove." in prune("--max-bytes", "5000")
    assert cache_dirs.files() == ["new.bin"]
