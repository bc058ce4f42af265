"""The database row is the download lock: a second router process waits for the first one's
download instead of fetching again, and takes over when the first one dies mid-download."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from downloads import claims
from downloads.models import CacheEntry
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from tests.support.live_router import PROJECT_DIR
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 2 * 1024 * 1024
SCRIPT = """
import asyncio, os, uuid
from downloads.services import cache_prepare_task
from workflows.graphs.builders.base import FileToFetch
file = FileToFetch(url=os.environ["URL"], folder="models/checkpoints", name=os.environ["NAME"])
asyncio.run(cache_prepare_task(task_id=uuid.uuid4(), files=[file]))
print("prepared")
"""


@pytest.fixture
def other_router(cache_dirs: CacheDirs) -> Iterator[list[subprocess.Popen[str]]]:
    """Processes started by `start_other`, killed at the end if still running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait()


def start_other(
    started: list[subprocess.Popen[str]], dirs: CacheDirs, file: FileToFetch
) -> subprocess.Popen[str]:
    """Runs cache_prepare_task in another process sharing our database and disk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMFY_ROUTER__")}
    env.update(
        COMFY_ROUTER__ENV="test",
        COMFY_ROUTER__DATA_DIR=str(dirs.cache_dir.parent / "other-data"),
        COMFY_ROUTER__DATABASE_URL="sqlite:///" + str(connection.settings_dict["NAME"]),
        COMFY_ROUTER__DOWNLOAD__CACHE_DIR=str(dirs.cache_dir),
        COMFY_ROUTER__DOWNLOAD__ROOT_DIR=str(dirs.root_dir),
        COMFY_ROUTER__LOG_LEVEL="WARNING",
        URL=file.url,
        NAME=file.name,
    )
    process = subprocess.Popen(
        [sys.executable, "manage.py", "shell", "-c", SCRIPT],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    started.append(process)
    return process


async def downloading_elsewhere(name: str, timeout: float = 30.0) -> CacheEntry:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entry = await CacheEntry.objects.filter(file_name=name).afirst()
        if entry and entry.owner and entry.bytes_done > 0 and f":{os.getpid()}:" not in entry.owner:
            return entry
        await asyncio.sleep(0.05)
    raise AssertionError("the other process never started downloading")


def slow_checkpoint(server: FileServer, delay: float) -> FileToFetch:
    url = server.url(f"/slow/shared.safetensors?size={SIZE}&chunk=131072&delay={delay}")
    return FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))


async def test_a_second_process_waits_for_the_first_ones_download(
    file_server: FileServer, cache_dirs: CacheDirs, other_router: list[subprocess.Popen[str]]
) -> None:
    file = slow_checkpoint(file_server, delay=0.1)
    other = start_other(other_router, cache_dirs, file)
    await downloading_elsewhere(file.name)

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])
    output, _ = await asyncio.to_thread(other.communicate, timeout=30)

    assert other.returncode == 0, output
    assert "prepared" in output
    assert file_server.hits["/slow/shared.safetensors"] == 1
    assert (cache_dirs.root_dir / file.folder / file.name).read_bytes() == body(SIZE)


async def test_a_download_whose_process_died_is_taken_over(
    file_server: FileServer,
    cache_dirs: CacheDirs,
    other_router: list[subprocess.Popen[str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(claims, "STALE_AFTER", 1.0)
    file = slow_checkpoint(file_server, delay=0.2)
    other = start_other(other_router, cache_dirs, file)
    await downloading_elsewhere(file.name)
    other.kill()
    other.wait()

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file_server.hits["/slow/shared.safetensors"] == 2
    assert (cache_dirs.cache_dir / file.name).read_bytes() == body(SIZE)
    assert cache_dirs.files() == [file.name]  # the dead process's temp file went too


def test_an_owner_that_stopped_beating_is_taken_over(cache_dirs: CacheDirs) -> None:
    entry = CacheEntry.objects.create(
        file_name="x.bin",
        key="https://example.com/x.bin",
        owner="elsewhere:1:0123456789abcdef",
        heartbeat_at=timezone.now() - timedelta(seconds=claims.STALE_AFTER + 1),
    )

    decision = claims.claim(
        entry_id=entry.pk, owner="here:2:fedcba9876543210", cache_file=cache_dirs.cache_dir / "x.bin"
    )

    assert decision.action == "download"
    entry.refresh_from_db()
    assert entry.owner == "here:2:fedcba9876543210"
