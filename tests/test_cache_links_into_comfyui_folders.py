"""Each cached file is linked as ROOT_DIR/<folder>/<name>; folders are created, dangling or wrong
links repaired, inline images written atomically into input/, and nothing lands outside."""

from __future__ import annotations

import os
import uuid

import pytest

from downloads.errors import DownloadError
from downloads.models import CacheLink
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch, InlineFile

pytestmark = pytest.mark.django_db(transaction=True)


def wanted(server: FileServer, folder: str, path: str = "/files/m.safetensors?size=3000") -> FileToFetch:
    url = server.url(path)
    return FileToFetch(url=url, folder=folder, name=cache_file_name(url))


async def test_it_links_one_cached_file_into_every_folder_that_uses_it(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    unet = wanted(file_server, "models/unet")
    checkpoint = wanted(file_server, "models/checkpoints")

    await cache_prepare_task(task_id=uuid.uuid4(), files=[unet, checkpoint])

    target = cache_dirs.cache_dir / unet.name
    for folder in ("models/unet", "models/checkpoints"):
        link = cache_dirs.root_dir / folder / unet.name
        assert link.is_symlink()
        assert os.readlink(link) == str(target)
        assert link.read_bytes() == body(3000)
    assert file_server.hits["/files/m.safetensors"] == 1
    assert await CacheLink.objects.acount() == 2


@pytest.mark.parametrize("damage", ["dangling", "wrong-target", "plain-file"])
async def test_it_repairs_a_broken_link(
    file_server: FileServer, cache_dirs: CacheDirs, damage: str
) -> None:
    file = wanted(file_server, "models/loras")
    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])
    link = cache_dirs.root_dir / file.folder / file.name
    link.unlink()
    if damage == "dangling":
        link.symlink_to(cache_dirs.cache_dir / "gone.safetensors")
    elif damage == "wrong-target":
        other = cache_dirs.cache_dir.parent / "other.bin"
        other.write_bytes(b"other")
        link.symlink_to(other)
    else:
        link.write_bytes(b"stale copy")

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert os.readlink(link) == str(cache_dirs.cache_dir / file.name)
    assert link.read_bytes() == body(3000)
    assert file_server.hits["/files/m.safetensors"] == 1


async def test_a_cached_file_that_vanished_is_downloaded_again(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = wanted(file_server, "models/vae")
    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])
    (cache_dirs.cache_dir / file.name).unlink()

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert (cache_dirs.root_dir / file.folder / file.name).read_bytes() == body(3000)
    assert file_server.hits["/files/m.safetensors"] == 2


async def test_inline_files_are_written_into_input(cache_dirs: CacheDirs) -> None:
    image = InlineFile(folder="input", name="abc.png", data=b"\x89PNG fake")

    await cache_prepare_task(task_id=uuid.uuid4(), files=[], inline_files=[image])
    await cache_prepare_task(task_id=uuid.uuid4(), files=[], inline_files=[image])

    written = cache_dirs.root_dir / "input" / "abc.png"
    assert written.read_bytes() == b"\x89PNG fake"
    assert sorted(p.name for p in written.parent.iterdir()) == ["abc.png"]


@pytest.mark.parametrize(
    ("folder", "name"),
    [("../../etc", "x.bin"), ("models/../../x", "x.bin"), ("/tmp", "x.bin"), ("models/loras", "../x.bin"), ("input", "..")],
)
async def test_files_cannot_escape_the_comfyui_folders(
    file_server: FileServer, cache_dirs: CacheDirs, folder: str, name: str
) -> None:
    url = file_server.url("/files/m.safetensors?size=3")

    with pytest.raises(DownloadError):
        await cache_prepare_task(
            task_id=uuid.uuid4(), files=[FileToFetch(url=url, folder=folder, name=name)]
        )
    with pytest.raises(DownloadError):
        await cache_prepare_task(
            task_id=uuid.uuid4(), files=[], inline_files=[InlineFile(folder=folder, name=name, data=b"x")]
        )

    assert file_server.hits["/files/m.safetensors"] == 0
    assert not cache_dirs.root_dir.exists()


async def test_a_folder_that_cannot_hold_the_link_fails_the_task_naming_the_url(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = wanted(file_server, "models/loras")
    (cache_dirs.root_dir / "models" / "loras" / file.name).mkdir(parents=True)

    with pytest.raises(DownloadError, match="cannot link it into models/loras") as error:
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file.url in str(error.value)
