"""A failed download leaves no file, no temp file and no ready entry, and its error names the URL
and the cause; transient failures are retried."""

from __future__ import annotations

import socket
import uuid

import pytest

from downloads.errors import DownloadError
from downloads.models import CacheEntry
from downloads.naming import cache_file_name
from downloads.selectors import task_download_progress
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)


def checkpoint(url: str) -> FileToFetch:
    return FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))


async def assert_nothing_left(dirs: CacheDirs, file: FileToFetch) -> None:
    assert dirs.files() == []
    assert not (dirs.root_dir / file.folder / file.name).is_symlink()
    assert not await CacheEntry.objects.filter(status=CacheEntry.Status.READY).aexists()


@pytest.mark.parametrize(
    ("path", "cause", "requests"),
    [
        ("/missing/x.ckpt", "HTTP 404", 1),
        ("/fail/x.ckpt?size=2000000&after=700000", "broke off", 4),
        ("/lie/x.ckpt?size=1000&claim=5000", "broke off", 4),
        ("/flaky/x.ckpt?size=10&failures=9", "HTTP 503", 4),
    ],
    ids=["not-found", "reset-mid-body", "lying-content-length", "server-error"],
)
async def test_a_failed_download_leaves_nothing_and_names_url_and_cause(
    file_server: FileServer, cache_dirs: CacheDirs, path: str, cause: str, requests: int
) -> None:
    file = checkpoint(file_server.url(path))
    task_id = uuid.uuid4()

    with pytest.raises(DownloadError) as error:
        await cache_prepare_task(task_id=task_id, files=[file])

    assert file.url in str(error.value)
    assert cause in str(error.value)
    assert file_server.hits[path.split("?")[0]] == requests
    await assert_nothing_left(cache_dirs, file)
    [progress] = await _progress(task_id)
    assert progress["status"] == "failed"


async def test_a_stalled_transfer_times_out(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    from downloads import fetch

    configure(settings, download_timeout=0.3)
    monkeypatch.setattr(fetch, "RETRIES", 1)
    file = checkpoint(file_server.url("/stall/x.ckpt?size=100000&after=1000"))

    with pytest.raises(DownloadError, match="stalled for 0.3s"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    await assert_nothing_left(cache_dirs, file)


async def test_a_server_that_refuses_connections_is_retried_then_named_unreachable(
    cache_dirs: CacheDirs,
) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    file = checkpoint(f"http://127.0.0.1:{port}/x.ckpt")

    with pytest.raises(DownloadError, match=r"cannot reach .*\(gave up after 4 attempts\)"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    await assert_nothing_left(cache_dirs, file)


async def test_transient_failures_are_retried_until_the_file_comes(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = checkpoint(file_server.url("/flaky/x.ckpt?size=5000&failures=2"))

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file_server.hits["/flaky/x.ckpt"] == 3
    assert (cache_dirs.root_dir / file.folder / file.name).read_bytes() == body(5000)


async def test_a_url_that_failed_before_is_tried_again_by_the_next_task(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = checkpoint(file_server.url("/flaky/x.ckpt?size=5000&failures=4"))
    with pytest.raises(DownloadError):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert (cache_dirs.cache_dir / file.name).read_bytes() == body(5000)


async def test_tasks_waiting_on_a_failing_download_share_its_error(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    import asyncio

    file = checkpoint(file_server.url("/fail/x.ckpt?size=2000000&after=70000"))

    results = await asyncio.gather(
        *(cache_prepare_task(task_id=uuid.uuid4(), files=[file]) for _ in range(5)),
        return_exceptions=True,
    )

    assert all(isinstance(result, DownloadError) for result in results)
    assert file_server.hits["/fail/x.ckpt"] == 4
    await assert_nothing_left(cache_dirs, file)


async def _progress(task_id: uuid.UUID) -> list[dict[str, object]]:
    from channels.db import database_sync_to_async

    return await database_sync_to_async(task_download_progress)(task_id=task_id)
