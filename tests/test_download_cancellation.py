"""A task cancelled mid-download leaves no temp file behind, and a task that was waiting for that
download takes it over at once instead of waiting for the owner to go stale."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from downloads.models import CacheEntry
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 1024 * 1024


def slow_model(server: FileServer) -> FileToFetch:
    url = server.url(f"/slow/model.safetensors?size={SIZE}&chunk=65536&delay=0.05")
    return FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))


async def bytes_arrived(name: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entry = await CacheEntry.objects.filter(file_name=name).afirst()
        if entry is not None and entry.bytes_done > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the download never started")


async def eventually(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        await asyncio.sleep(0.02)
    assert condition()  # type: ignore[operator]


async def test_a_cancelled_download_leaves_no_temp_file(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = slow_model(file_server)
    task = asyncio.create_task(cache_prepare_task(task_id=uuid.uuid4(), files=[file]))
    await bytes_arrived(file.name)

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

    await eventually(lambda: cache_dirs.files() == [])
    entry = await CacheEntry.objects.aget(file_name=file.name)
    assert entry.status == CacheEntry.Status.DOWNLOADING and entry.owner == ""


async def test_a_waiting_task_takes_over_when_the_downloading_one_is_cancelled(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = slow_model(file_server)
    downloading = asyncio.create_task(cache_prepare_task(task_id=uuid.uuid4(), files=[file]))
    await bytes_arrived(file.name)
    waiting = asyncio.create_task(cache_prepare_task(task_id=uuid.uuid4(), files=[file]))
    await asyncio.sleep(0.1)

    started = time.monotonic()
    downloading.cancel()
    await waiting

    assert time.monotonic() - started < 5  # well before the owner would count as stale (20 s)
    assert file_server.hits["/slow/model.safetensors"] == 2
    assert (cache_dirs.cache_dir / file.name).read_bytes() == body(SIZE)
    assert cache_dirs.files() == [file.name]
    assert downloading.cancelled()
