"""Files given by https URLs are fetched over TLS and checked against the trusted authorities; a
server whose certificate is not trusted fails the download, naming why."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator

import pytest
import trustme
from aiohttp import web

from downloads import fetch
from downloads.errors import DownloadError
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs  # noqa: F401
from tests.support.file_server import body
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 3 * 1024 * 1024 + 17


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_url(authority: trustme.CA) -> AsyncIterator[str]:
    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=body(SIZE), content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served).start()
    host, port = runner.addresses[0][:2]
    yield f"https://{host}:{port}/model.safetensors"
    await runner.cleanup()


def checkpoint(url: str) -> FileToFetch:
    return FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))


async def test_a_file_from_a_trusted_https_server_is_cached(
    https_url: str,
    authority: trustme.CA,
    cache_dirs: CacheDirs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    monkeypatch.setattr(fetch, "SSL_CONTEXT", trusting)
    file = checkpoint(https_url)

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert (cache_dirs.root_dir / file.folder / file.name).read_bytes() == body(SIZE)


async def test_a_server_whose_certificate_is_not_trusted_fails_the_download(
    https_url: str, cache_dirs: CacheDirs
) -> None:
    file = checkpoint(https_url)

    with pytest.raises(DownloadError, match="CERTIFICATE_VERIFY_FAILED"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert cache_dirs.files() == []
