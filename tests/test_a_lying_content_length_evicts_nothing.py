"""A server that announces a large Content-Length and sends little makes room in the cache only
for what it sent: eviction follows the bytes that arrive, never a header alone."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from downloads.errors import DownloadError
from downloads.models import CacheEntry
from downloads.naming import cache_file_name
from downloads.services import acache_release_task, cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401
from tests.support.file_server import FileServer, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)

MIB = 1024 * 1024


def lora(server: FileServer, path: str) -> FileToFetch:
    url = server.url(path)
    return FileToFetch(url=url, folder="models/loras", name=cache_file_name(url))


async def use(*files: FileToFetch) -> None:
    task_id = uuid.uuid4()
    await cache_prepare_task(task_id=task_id, files=files)
    await acache_release_task(task_id=task_id)


async def cached() -> set[str]:
    return {e.file_name async for e in CacheEntry.objects.filter(status=CacheEntry.Status.READY)}


async def two_ready_models(server: FileServer) -> set[str]:
    a = lora(server, f"/files/a.safetensors?size={4 * MIB}")
    b = lora(server, f"/files/b.safetensors?size={4 * MIB}")
    await use(a)
    await use(b)
    return {a.name, b.name}


async def test_a_url_announcing_9_mb_that_sends_1_kb_evicts_no_ready_model(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, max_cache_bytes=10 * MIB)
    ready = await two_ready_models(file_server)
    liar = lora(file_server, f"/lie/liar.safetensors?size=1024&claim={9 * MIB}")

    with pytest.raises(DownloadError, match="liar.safetensors"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[liar])

    assert file_server.hits["/lie/liar.safetensors"] == 4  # every attempt lied
    assert await cached() == ready
    assert sorted(cache_dirs.files()) == sorted(ready)


async def test_a_download_in_progress_counts_for_what_it_received_not_what_it_announced(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, max_cache_bytes=10 * MIB)
    ready = await two_ready_models(file_server)
    liar = lora(file_server, f"/stall/liar.safetensors?size={9 * MIB}&after=1024")
    stalled = asyncio.create_task(cache_prepare_task(task_id=uuid.uuid4(), files=[liar]))
    try:
        await received_some(liar.name)
        honest = lora(file_server, f"/files/c.safetensors?size={MIB // 2}")

        await use(honest)

        assert await cached() == ready | {honest.name}
    finally:
        stalled.cancel()
        await asyncio.gather(stalled, return_exceptions=True)


async def received_some(name: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entry = await CacheEntry.objects.filter(file_name=name).afirst()
        if entry is not None and entry.bytes_done > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the download never started")
