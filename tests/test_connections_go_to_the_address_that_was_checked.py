"""With BLOCK_PRIVATE_NETWORKS, a host name is resolved once per connection and the connection
goes to the address that passed the check: a DNS answer that changes in between (rebinding, here
from a public address to a private one) cannot redirect it. Downloads and webhooks alike.

127.0.0.1, where the test servers listen, stands for a public address; 127.0.0.3, where
nothing listens, for the private address a rebinding server answers with the second time."""

from __future__ import annotations

import uuid

import pytest

from downloads import policy
from downloads.naming import cache_file_name
from downloads.services import cache_prepare_task
from tests.support.cache_settings import CacheDirs, cache_dirs, configure  # noqa: F401
from tests.support.fake_dns import FakeDNS, fake_dns  # noqa: F401
from tests.support.file_server import FileServer, body, file_server  # noqa: F401
from tests.support.webhooks import Receiver
from workflows.graphs.builders.base import FileToFetch
from workflows.models import Task
from workflows.tasks import webhooks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def rebinding_name(fake_dns: FakeDNS, monkeypatch: pytest.MonkeyPatch) -> FakeDNS:
    monkeypatch.setattr(policy, "is_public_address", lambda address: address == "127.0.0.1")
    fake_dns.answer("rebind.example", "127.0.0.1", "127.0.0.3")
    return fake_dns


async def test_a_download_connects_to_the_address_that_was_checked(
    rebinding_name: FakeDNS, file_server: FileServer, cache_dirs: CacheDirs, settings: object
) -> None:
    configure(settings, block_private_networks=True)
    url = f"http://rebind.example:{file_server.port}/files/v.pt?size=10"
    file = FileToFetch(url=url, folder="models/vae", name=cache_file_name(url))

    await cache_prepare_task(task_id=uuid.uuid4(), files=[file])

    assert (cache_dirs.cache_dir / file.name).read_bytes() == body(10)
    assert rebinding_name.lookups_of("rebind.example") == 1


async def test_a_webhook_connects_to_the_address_that_was_checked(
    rebinding_name: FakeDNS, settings: object, monkeypatch: pytest.MonkeyPatch
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
            webhook_url=f"http://rebind.example:{port}/hook",
        )
        assert await webhooks.deliver(task) is True
    finally:
        receiver.close()

    [(_, headers)] = receiver.received
    assert headers["Host"] == f"rebind.example:{port}"
    assert rebinding_name.lookups_of("rebind.example") == 1
