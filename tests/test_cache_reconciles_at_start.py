"""At start the cache and its rows are brought back into agreement, and the original router's
record is adopted once so an existing cache is not downloaded again."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.utils import timezone

from downloads.models import AdoptedRecord, CacheEntry, CacheUse
from downloads.naming import cache_file_name
from downloads.startup import cache_adopt_record, cache_reconcile, cache_start
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401

pytestmark = pytest.mark.django_db


def ready_entry(dirs: CacheDirs, url: str, *, with_file: bool = True) -> CacheEntry:
    name = cache_file_name(url)
    if with_file:
        (dirs.cache_dir / name).write_bytes(b"data")
    return CacheEntry.objects.create(
        file_name=name, key=url, status=CacheEntry.Status.READY, size=4, last_used=timezone.now()
    )


def test_it_drops_entries_whose_file_vanished(cache_dirs: CacheDirs) -> None:
    kept = ready_entry(cache_dirs, "https://example.com/kept.bin")
    ready_entry(cache_dirs, "https://example.com/gone.bin", with_file=False)

    report = cache_reconcile()

    assert report.dropped_entries == 1
    assert list(CacheEntry.objects.all()) == [kept]


def test_a_pinned_entry_whose_file_vanished_is_marked_for_download(cache_dirs: CacheDirs) -> None:
    entry = ready_entry(cache_dirs, "https://example.com/gone.bin", with_file=False)
    CacheUse.objects.create(entry=entry, task_id=uuid.uuid4(), url=entry.key, folder="models/vae")

    cache_reconcile()

    entry.refresh_from_db()
    assert entry.status == CacheEntry.Status.FAILED


def test_it_removes_leftover_temp_files_but_not_a_live_download(cache_dirs: CacheDirs) -> None:
    leftover = cache_dirs.cache_dir / ".abc.safetensors.0123456789abcdef.part"
    leftover.write_bytes(b"half")
    live = cache_dirs.cache_dir / ".def.safetensors.fedcba9876543210.part"
    live.write_bytes(b"half")
    CacheEntry.objects.create(
        file_name="def.safetensors",
        key="https://example.com/def.safetensors",
        owner="host:1:fedcba9876543210",
        heartbeat_at=timezone.now(),
    )
    ready_entry(cache_dirs, "https://example.com/kept.bin")

    report = cache_reconcile()

    assert report.removed_temp_files == 1
    assert not leftover.exists()
    assert live.exists()
    assert len(cache_dirs.files()) == 2


def write_record(dirs: CacheDirs, record: object) -> None:
    dirs.record_path.write_text(json.dumps(record))


def test_it_adopts_completed_entries_of_the_original_record_once(cache_dirs: CacheDirs) -> None:
    (cache_dirs.cache_dir / "sd15.safetensors").write_bytes(b"12345")
    (cache_dirs.cache_dir / "partial.bin").write_bytes(b"12")
    (cache_dirs.cache_dir / "wrong-size.bin").write_bytes(b"12")
    write_record(
        cache_dirs,
        {
            "https://example.com/sd15.safetensors?sig=1": {
                "path": str(cache_dirs.cache_dir / "sd15.safetensors"),
                "size": 5,
                "status": "completed",
            },
            "https://example.com/partial.bin": {"file": "partial.bin", "status": "downloading"},
            "https://example.com/wrong-size.bin": {"file": "wrong-size.bin", "size": 99},
            "https://example.com/missing.bin": {"file": "missing.bin"},
            "https://example.com/outside.bin": {"path": "/etc/hostname"},
        },
    )

    assert cache_adopt_record() == 1
    assert cache_adopt_record() == 0

    name = cache_file_name("https://example.com/sd15.safetensors")
    entry = CacheEntry.objects.get()
    assert (entry.file_name, entry.status, entry.size) == (name, CacheEntry.Status.READY, 5)
    assert (cache_dirs.cache_dir / name).read_bytes() == b"12345"
    assert AdoptedRecord.objects.get().entries == 1


def test_it_reads_a_list_of_records_with_url_fields(cache_dirs: CacheDirs) -> None:
    (cache_dirs.cache_dir / "a.bin").write_bytes(b"a")
    write_record(cache_dirs, [{"url": "https://example.com/a.bin", "file": "a.bin", "status": "done"}])

    assert cache_adopt_record() == 1


def test_an_unreadable_record_is_skipped_with_a_warning(
    cache_dirs: CacheDirs, caplog: pytest.LogCaptureFixture
) -> None:
    cache_dirs.record_path.write_text("{not json")

    cache_start()

    assert "Cannot read the original router's record" in caplog.text
    assert not AdoptedRecord.objects.exists()


def test_no_record_is_fine(cache_dirs: CacheDirs) -> None:
    assert not Path(cache_dirs.record_path).exists()
    assert cache_adopt_record() == 0



def test_the_router_runs_the_reconciliation_as_a_background_service() -> None:
    from comfy_router.background import registered_services

    assert "downloads.startup.run" in registered_services()


@pytest.mark.django_db(transaction=True)
async def test_the_start_service_adopts_the_record_and_cleans_temp_files(cache_dirs: CacheDirs) -> None:
    import asyncio

    from downloads.startup import run

    (cache_dirs.cache_dir / "old-name.ckpt").write_bytes(b"model")
    leftover = cache_dirs.cache_dir / ".x.ckpt.0123456789abcdef.part"
    leftover.write_bytes(b"half")
    write_record(cache_dirs, {"https://example.com/m.ckpt": {"file": "old-name.ckpt", "status": "completed"}})

    await run(asyncio.Event())

    assert cache_dirs.files() == [cache_file_name("https://example.com/m.ckpt")]
