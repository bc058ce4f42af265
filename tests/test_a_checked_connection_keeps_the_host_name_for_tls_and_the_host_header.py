"""With BLOCK_PRIVATE_NETWORKS the download connects to the address it checked, yet TLS still
verifies the certificate for the URL's host name (sent as SNI) and the request still names it in
its Host header: a server with a certificate only for `files.example` serves the file.

127.0.0.1, where the server listens, stands for the public address `files.example` has."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import AsyncIterator

import pytest
import trustme
from aiohttp import web

from downloads import fetch, policy
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401
from tests.support.fake_dns import FakeDNS, fake_dns  # noqa: F401
from tests.support.file_server import body
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)

SIZE = 1000


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def files_example(authority: trustme.CA) -> AsyncIterator[tuple[int, list[str]]]:
    """An https server for `files.example` only, on loopback: its port, the Host headers seen."""
    hosts: list[str] = []

    async def serve(request: web.Request) -> web.Response:
        hosts.append(request.headers["Host"])
        return web.Response(body=body(SIZE), content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    runner = web.AppRunner(app)
    await runner.setup()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("files.example").configure_cert(served)
    await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=served).start()
    yield runner.addresses[0][1], hosts
    await runner.cleanup()


async def test_an_https_download_verifies_the_certificate_of_the_name_it_connected_for(
    files_example: tuple[int, list[str]],
    authority: trustme.CA,
    fake_dns: FakeDNS,
    cache_dirs: CacheDirs,
    settings: object,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure(settings, block_private_networks=True)
    monkeypatch.setattr(policy, "is_public_address", lambda address: address == "127.0.0.1")
    fake_dns.answer("files.example", "127.0.0.1")
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    monkeypatch.setattr(fetch, "SSL_CONTEXT", trusting)
    port, hosts = files_example
    url = f"https://files.example:{port}/model.safetensors"
    file = FileToFetch(url=url, folder="models/checkpoints", name=cache_file_name(url))

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert (cache_dirs.root_dir / file.folder / file.name).read_bytes() == body(SIZE)
    assert hosts == [f"files.example:{port}"]
    assert fake_dns.lookups_of("files.example") >= 1
