"""A download that no unfinished task wants any more stops and its partial file goes: cancelling
tasks frees the router's downloads, so the pending limit bounds them. A download another task
still wants goes on; a task that no longer wants a file stops waiting for it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from downloads.errors import DownloadAbandoned
from downloads.models import CacheEntry, CacheUse
from downloads.naming import cache_file_name
from downloads.services import acache_release_task, cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.cluster import Cluster
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from tests.workflow_params import body as task_body
from tests.workflow_params import custom, sd15_params
from workflows.dispatch.downloads import prepare
from workflows.graphs.builders.base import FileToFetch
from workflows.models import Task
from workflows.tasks.endings import task_end

SIZE = 8 * 1024 * 1024  # 128 chunks of 64 KiB, 50 ms apart: about 6.4 s


def slow_model(server: FileServer, name: str = "model", delay: float = 0.05) -> FileToFetch:
    url = server.url(f"/slow/{name}.safetensors?size={SIZE}&chunk=65536&delay={delay}")
    return FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))


async def bytes_arrived(name: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        entry = await CacheEntry.objects.filter(file_name=name).afirst()
        if entry is not None and entry.bytes_done > 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError("the download never started")


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert condition()


@pytest.mark.django_db(transaction=True)
async def test_a_download_whose_only_task_let_go_stops_and_leaves_no_partial_file(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = slow_model(file_server)
    task_id = uuid.uuid4()
    preparing = asyncio.create_task(cache_prepare_task(task_id=task_id, files=[file]))
    await bytes_arrived(file.name)

    started = time.monotonic()
    await acache_release_task(task_id=task_id)  # what a task's end (a cancel) does

    with pytest.raises(DownloadAbandoned, match="no unfinished task wants it"):
        await preparing
    assert time.monotonic() - started < 3  # well before the 6.4 s the body takes
    await eventually(lambda: file_server.streaming == 0)
    await eventually(lambda: cache_dirs.files() == [])


@pytest.mark.django_db(transaction=True)
async def test_a_download_another_task_still_wants_goes_on(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = slow_model(file_server)
    first, second = uuid.uuid4(), uuid.uuid4()
    downloading = asyncio.create_task(cache_prepare_task(task_id=first, files=[file]))
    await bytes_arrived(file.name)
    waiting = asyncio.create_task(cache_prepare_task(task_id=second, files=[file]))
    await asyncio.sleep(0.2)

    await acache_release_task(task_id=first)
    await waiting
    await asyncio.gather(downloading, return_exceptions=True)

    assert file_server.hits["/slow/model.safetensors"] == 1
    assert (cache_dirs.root_dir / file.folder / file.name).read_bytes() == body(SIZE)


@pytest.mark.django_db(transaction=True)
async def test_a_task_that_no_longer_wants_a_file_stops_waiting_for_it(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = slow_model(file_server)
    first, second = uuid.uuid4(), uuid.uuid4()
    downloading = asyncio.create_task(cache_prepare_task(task_id=first, files=[file]))
    await bytes_arrived(file.name)
    waiting = asyncio.create_task(cache_prepare_task(task_id=second, files=[file]))
    await asyncio.sleep(0.2)

    started = time.monotonic()
    await acache_release_task(task_id=second)

    with pytest.raises(DownloadAbandoned, match="stopped waiting"):
        await waiting
    assert time.monotonic() - started < 3
    assert not downloading.done()
    downloading.cancel()
    await asyncio.gather(downloading, return_exceptions=True)


@pytest.mark.django_db(transaction=True)
async def test_a_task_cancelled_before_its_download_pinned_its_files_stops_that_download(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = slow_model(file_server)
    task = await Task.objects.acreate(
        type=Task.Type.COMFYUI,
        params={},
        graph={},
        status=Task.Status.DOWNLOADING,
        files=[{"url": file.url, "folder": file.folder, "name": file.name}],
        prompt_id=str(uuid.uuid4()),
        lease_owner="a-download",
        lease_expires_at=timezone.now() + timedelta(minutes=5),
    )
    await database_sync_to_async(task_end)(
        task_id=task.pk, status=Task.Status.CANCELLED, owner=None
    )

    started = time.monotonic()
    await prepare(task.pk, "a-download")  # the download step the dispatcher had already started

    assert time.monotonic() - started < 3
    assert not await CacheUse.objects.filter(task_id=task.pk).aexists()
    await eventually(lambda: file_server.streaming == 0)
    await eventually(lambda: cache_dirs.files() == [])


def test_cancelled_tasks_leave_no_download_running_so_the_pending_limit_bounds_them(
    cluster_factory: Callable[..., Cluster], file_server: FileServer  # noqa: F811
) -> None:
    """The audit's case: four rounds of three submissions and their cancels under
    PENDING_LIMIT=3 left twelve downloads running."""
    cluster = cluster_factory(nodes=1, COMFY_ROUTER__PENDING_LIMIT="3")
    with cluster.client() as client:
        for round_ in range(4):
            task_ids = []
            for n in range(3):
                url = slow_model(file_server, f"r{round_}-{n}", delay=0.5).url  # 64 s
                task_ids.append(cluster.submit(task_body("SD15", sd15_params(checkpoint=custom(url)))))
            wait_until(lambda: file_server.streaming > 0, "no download started")
            for task_id in task_ids:
                assert client.delete(f"/workflow/{task_id}").json()["status"] == "cancelled"

    wait_until(lambda: file_server.streaming == 0, "downloads still running after their cancel")
    wait_until(
        lambda: not any(cluster.router.cache_dir.glob(".*.part")), "partial files left behind"
    )


def wait_until(condition: Callable[[], bool], failure: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)
