"""When the cache would pass its limit, the least recently *used* unpinned entries go first, as
the bytes arrive; pinned entries stay even over the limit; a file larger than the whole limit
fails at once."""

from __future__ import annotations

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


def lora(
    server: FileServer, name: str, size: int = 4 * MIB, path: str = "files", query: str = ""
) -> FileToFetch:
    url = server.url(f"/{path}/{name}.safetensors?size={size}{query}")
    return FileToFetch(url=url, folder="models/loras", name=cache_file_name(url))


async def use(*files: FileToFetch) -> None:
    task_id = uuid.uuid4()
    await cache_prepare_task(task_id=task_id, files=files)
    await acache_release_task(task_id=task_id)


async def cached() -> set[str]:
    return {e.file_name async for e in CacheEntry.objects.filter(status=CacheEntry.Status.READY)}


async def test_it_evicts_the_least_recently_used_entry_not_the_oldest_download(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, max_cache_bytes=9 * MIB)
    a, b, c = lora(file_server, "a"), lora(file_server, "b"), lora(file_server, "c")
    await use(a)
    await use(b)
    await use(a)  # a is now used more recently than b, though downloaded first

    await use(c)

    assert await cached() == {a.name, c.name}
    assert not (cache_dirs.cache_dir / b.name).exists()
    assert not (cache_dirs.root_dir / "models/loras" / b.name).is_symlink()
    assert (cache_dirs.root_dir / "models/loras" / a.name).is_file()
    assert file_server.hits["/files/a.safetensors"] == 1


async def test_it_makes_room_as_the_body_arrives_and_never_holds_more_than_its_limit(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, max_cache_bytes=9 * MIB)
    a, b = lora(file_server, "a"), lora(file_server, "b")
    c = lora(file_server, "c", path="slow", query="&chunk=524288&delay=0.05")
    await use(a)
    await use(b)
    seen_while_downloading: list[set[str]] = []
    bytes_on_disk: list[int] = []

    async def look() -> None:
        bytes_on_disk.append(sum(p.stat().st_size for p in cache_dirs.cache_dir.iterdir()))
        if not (cache_dirs.cache_dir / c.name).exists():
            seen_while_downloading.append(await cached())

    await cache_prepare_task(task_id=uuid.uuid4(), files=[c], on_progress=look)

    assert any(a.name not in seen for seen in seen_while_downloading)
    assert max(bytes_on_disk) <= 9 * MIB
    assert await cached() == {b.name, c.name}


async def test_a_pinned_entry_survives_pressure_and_the_cache_goes_over_its_limit(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object, caplog: pytest.LogCaptureFixture
) -> None:
    configure(settings, max_cache_bytes=9 * MIB)
    a, b, c = lora(file_server, "a"), lora(file_server, "b"), lora(file_server, "c")
    running = uuid.uuid4()
    await cache_prepare_task(task_id=running, files=[a])
    await cache_prepare_task(task_id=uuid.uuid4(), files=[b])  # pins b, never released
    await cache_prepare_task(task_id=uuid.uuid4(), files=[c])

    assert await cached() == {a.name, b.name, c.name}
    assert "over its limit" in caplog.text

    await acache_release_task(task_id=running)

    assert await cached() == {b.name, c.name}
    assert not (cache_dirs.cache_dir / a.name).exists()


async def test_a_file_larger_than_the_whole_limit_fails_at_once(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, max_cache_bytes=2 * MIB)
    small = lora(file_server, "small", size=MIB)
    await use(small)
    big = lora(file_server, "big", size=3 * MIB)

    with pytest.raises(DownloadError, match="larger than the whole cache limit") as error:
        await cache_prepare_task(task_id=uuid.uuid4(), files=[big])

    assert big.url in str(error.value)
    assert file_server.hits["/files/big.safetensors"] == 1
    assert await cached() == {small.name}
    assert cache_dirs.files() == [small.name]


async def test_a_body_without_length_that_passes_the_limit_is_cut_off(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, max_cache_bytes=2 * MIB)
    big = lora(file_server, "big", size=3 * MIB, path="chunked")

    with pytest.raises(DownloadError, match="passed the whole cache limit"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[big])

    assert cache_dirs.files() == []
