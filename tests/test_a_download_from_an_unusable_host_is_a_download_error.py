"""A host name the resolver cannot encode (`a..b`, a label over 63 characters), given directly
or reached by a redirect, ends the download with a DownloadError naming the URL, the task's
clear error, rather than an internal one."""

from __future__ import annotations

import uuid

import pytest

from downloads.errors import DownloadError
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401
from tests.support.file_server import FileServer, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)
UNUSABLE_HOSTS = ["a..b", "a" * 64 + ".example.com"]


def vae(url: str) -> FileToFetch:
    return FileToFetch(url=url, folder="models/vae", name=cache_file_name(url))


@pytest.mark.parametrize("host", UNUSABLE_HOSTS)
@pytest.mark.parametrize("block_private_networks", [False, True])
async def test_a_url_with_an_unusable_host_fails_as_a_download_error(
    cache_dirs: CacheDirs, settings: object, host: str, block_private_networks: bool
) -> None:
    configure(settings, block_private_networks=block_private_networks)
    url = f"http://{host}/v.pt"

    with pytest.raises(DownloadError, match="invalid URL") as raised:
        await cache_prepare_task(task_id=uuid.uuid4(), files=[vae(url)])

    assert url in str(raised.value)
    assert cache_dirs.files() == []


async def test_a_redirect_to_an_unusable_host_fails_as_a_download_error(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    url = file_server.url("/redirect?to=http://a..b/v.pt")

    with pytest.raises(DownloadError, match=r"invalid URL http://a\.\.b/v\.pt"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[vae(url)])

    assert file_server.hits["/redirect"] == 1
    assert cache_dirs.files() == []
