"""With BLOCK_PRIVATE_NETWORKS, a non-ASCII host is checked under the name httpx connects to, its
IDNA 2008 form (`attackerß.example` is `xn--attacker-xya.example`), not the IDNA 2003 form that
Python's resolver would make of it (`attackerss.example`): two names that may resolve to
different addresses. Here the 2003 name is public and the 2008 name is loopback."""

from __future__ import annotations

import uuid

import pytest

from downloads.errors import DownloadError
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401
from tests.support.fake_dns import FakeDNS, fake_dns  # noqa: F401
from tests.support.file_server import FileServer, file_server  # noqa: F401
from tests.support.webhooks import Receiver
from workflows.graphs.builders.base import FileToFetch
from workflows.models import Task
from workflows.tasks import webhooks

pytestmark = pytest.mark.django_db(transaction=True)

PUBLIC_ADDRESS = "8.8.8.8"  # only ever looked up, never connected to
SHARP_S_HOST = "attacker\N{LATIN SMALL LETTER SHARP S}.example"
REFUSED = "'xn--attacker-xya.example' resolves to the non-public address 127.0.0.1"


@pytest.fixture
def idna_names(fake_dns: FakeDNS) -> FakeDNS:
    fake_dns.answer("attackerss.example", PUBLIC_ADDRESS)
    fake_dns.answer("xn--attacker-xya.example", "127.0.0.1")
    return fake_dns


async def test_a_download_from_a_name_whose_idna_2008_form_is_loopback_is_refused(
    idna_names: FakeDNS, file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, block_private_networks=True)
    url = f"http://{SHARP_S_HOST}:{file_server.port}/files/v.pt?size=10"
    file = FileToFetch(url=url, folder="models/vae", name=cache_file_name(url))

    with pytest.raises(DownloadError, match=REFUSED):
        await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert file_server.hits["/files/v.pt"] == 0
    assert cache_dirs.files() == []


async def test_a_webhook_to_a_name_whose_idna_2008_form_is_loopback_is_not_sent(
    idna_names: FakeDNS, settings: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(settings, block_private_networks=True)
    monkeypatch.setattr(webhooks, "BACKOFF", 0.01)
    receiver = Receiver()
    port = receiver.server.server_port
    try:
        task = await Task.objects.acreate(
            type=Task.Type.COMFYUI,
            params={},
            graph={},
            status=Task.Status.DONE,
            webhook_url=f"http://{SHARP_S_HOST}:{port}/hook",
        )
        assert await webhooks.deliver(task) is False
    finally:
        receiver.close()

    assert receiver.received == []
    assert idna_names.lookups_of("attackerss.example") == 0
    assert idna_names.lookups_of("xn--attacker-xya.example") == 1  # refused, not retried
