"""Only http(s) URLs are fetched; with BLOCK_PRIVATE_NETWORKS, hosts resolving to loopback,
private or link-local addresses are refused, at the first URL and after every redirect.

Every test server here is on loopback, so the allowed path is tested with the setting off."""

from __future__ import annotations

import uuid

import pytest

from downloads.errors import DownloadError
from downloads.naming import cache_file_name
from downloads.policy import is_public_address
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from workflows.graphs.builders.base import FileToFetch

pytestmark = pytest.mark.django_db(transaction=True)


def vae(url: str) -> FileToFetch:
    return FileToFetch(url=url, folder="models/vae", name=cache_file_name(url))


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/x.pt", "gopher://example.com/x", "//example.com/x"]
)
async def test_it_refuses_urls_that_are_not_http(cache_dirs: CacheDirs, url: str) -> None:
    with pytest.raises(DownloadError, match="only http and https"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[vae(url)])


async def test_it_refuses_a_loopback_host_when_private_networks_are_blocked(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, block_private_networks=True)
    file = vae(file_server.url("/files/v.pt?size=10"))

    with pytest.raises(DownloadError, match="non-public address 127.0.0.1"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file_server.hits["/files/v.pt"] == 0
    assert cache_dirs.files() == []


async def test_it_refuses_a_hostname_that_resolves_to_loopback(
    file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, block_private_networks=True)
    file = vae(f"http://localhost:{file_server.port}/files/v.pt?size=10")

    with pytest.raises(DownloadError, match="non-public address"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file_server.hits["/files/v.pt"] == 0


async def test_it_fetches_from_loopback_when_the_setting_is_off(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = vae(file_server.url("/files/v.pt?size=10"))

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert (cache_dirs.cache_dir / file.name).read_bytes() == body(10)


async def test_it_follows_redirects_checking_each_hop(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = vae(file_server.url("/redirect?to=/redirect%3Fto%3D/files/v.pt%253Fsize%253D10"))

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file_server.hits["/redirect"] == 2
    assert (cache_dirs.cache_dir / file.name).read_bytes() == body(10)


async def test_it_refuses_a_redirect_to_another_scheme(
    file_server: FileServer, cache_dirs: CacheDirs
) -> None:
    file = vae(file_server.url("/redirect?to=file:///etc/passwd"))

    with pytest.raises(DownloadError, match="only http and https"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert cache_dirs.files() == []


async def test_it_refuses_a_redirect_into_a_private_network(
    file_server: FileServer, cache_dirs: CacheDirs, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    """The first hop is let through (as if public); the redirect to loopback is caught."""
    from downloads import policy

    configure(settings, block_private_networks=True)
    first_hop = file_server.url("/redirect")
    real_is_public = policy.is_public_address
    checked: list[str] = []

    def public_for_first_hop(address: str) -> bool:
        checked.append(address)
        return len(checked) == 1 or real_is_public(address)

    monkeypatch.setattr(policy, "is_public_address", public_for_first_hop)
    file = vae(first_hop + f"?to=http://127.0.0.2:{file_server.port}/files/v.pt")

    with pytest.raises(DownloadError, match="non-public address 127.0.0.2"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file_server.hits["/redirect"] == 1
    assert file_server.hits["/files/v.pt"] == 0


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
    ],
)
def test_it_tells_public_addresses_from_private_ones(address: str, public: bool) -> None:
    assert is_public_address(address) is public


async def test_a_malformed_url_fails_with_a_clear_error(cache_dirs: CacheDirs) -> None:
    file = FileToFetch(url="http://[::1/x.pt", folder="models/vae", name="x.pt")

    with pytest.raises(DownloadError, match=r"http://\[::1/x.pt: Invalid IPv6 URL"):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])
