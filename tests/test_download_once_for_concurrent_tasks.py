"""The same URL is downloaded once however many tasks want it at the same moment."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from downloads.models import CacheEntry
from downloads.naming import cache_file_name
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)


async def test_twenty_tasks_wanting_one_url_cause_one_request(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    from downloads.services import cache_prepare_task

    url = file_server.url("/slow/model.safetensors?size=1048576&chunk=131072&delay=0.02")
    name = cache_file_name(url)
    file = FileToFetch(url=url, folder="models/checkpoints", name=name)

    await asyncio.gather(
        *(cache_prepare_task(task_id=uuid.uuid4(), files=[file]) for _ in range(20))
    )

    assert file_server.hits["/slow/model.safetensors"] == 1
    assert (cache_dirs.cache_dir / name).read_bytes() == body(1048576)
    assert (cache_dirs.root_dir / "models/checkpoints" / name).read_bytes() == body(1048576)
    entry = await CacheEntry.objects.aget(file_name=name)
    assert entry.status == CacheEntry.Status.READY
    assert entry.size == 1048576
    assert await entry.uses.acount() == 20


async def test_a_ready_entry_is_not_downloaded_again(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    from downloads.services import cache_prepare_task

    url = file_server.url("/files/vae.pt?size=1000")
    file = FileToFetch(url=url, folder="models/vae", name=cache_file_name(url))

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])
    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])
    signed_url = url + "&X-Amz-Date=20261206T080000Z&X-Amz-Expires=60&X-Amz-Signature=abc"
    signed = FileToFetch(url=signed_url, folder="models/vae", name=cache_file_name(signed_url))
    await cache_prepare_task(task_id=uuid.uuid4(), files=[signed])

    assert file_server.hits["/files/vae.pt"] == 1
