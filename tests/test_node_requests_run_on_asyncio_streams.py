"""Requests to a node go over asyncio's own streams (comfy_router.asyncio_transport): TLS to a
node served over https, one kept-alive connection for a node's requests, and a connection the
node closed while idle replaced rather than reused."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trustme

from tests.fake_comfyui import FakeComfyUI
from tests.fake_comfyui.fixtures import fake_comfyui  # noqa: F401
from tests.fake_comfyui.graphs import empty_to_save
from workflows.comfyui import client as comfyui_client
from workflows.comfyui.client import ComfyUIClient, NodeUnreachable

pytestmark = pytest.mark.asyncio


@pytest.fixture
def authority() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
async def https_node(tmp_path: Path, authority: trustme.CA) -> AsyncIterator[FakeComfyUI]:
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    node = FakeComfyUI(tmp_path / "comfyui", ssl_context=served)
    await node.start()
    yield node
    await node.stop()


async def test_a_node_served_over_https_takes_prompts(
    https_node: FakeComfyUI, authority: trustme.CA, monkeypatch: pytest.MonkeyPatch
) -> None:
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    monkeypatch.setattr(comfyui_client, "SSL_CONTEXT", trusting)
    assert https_node.url.startswith("https://")
    async with ComfyUIClient(https_node.url) as client:
        stats = await client.system_stats()
        prompt_id = await client.submit_prompt(empty_to_save(), "c1")
    assert stats["system"]["comfyui_version"]
    assert https_node.log.prompt(prompt_id).client_id == "c1"


async def test_a_node_whose_certificate_is_not_trusted_is_unreachable(
    https_node: FakeComfyUI,
) -> None:
    async with ComfyUIClient(https_node.url, timeout=5) as client:
        with pytest.raises(NodeUnreachable, match="CERTIFICATE_VERIFY_FAILED"):
            await client.system_stats()
    assert not https_node.log.requests


async def test_a_nodes_requests_share_one_kept_alive_connection(
    fake_comfyui: FakeComfyUI,
) -> None:
    async with ComfyUIClient(fake_comfyui.url) as client:
        for _ in range(5):
            await client.system_stats()
        await client.submit_prompt(empty_to_save(), "c1")
        assert len(client._transport._pool.connections) == 1
    assert len(fake_comfyui.log.requests) == 6


async def test_a_connection_the_node_closed_while_idle_is_replaced(
    fake_comfyui: FakeComfyUI, tmp_path: Path
) -> None:
    async with ComfyUIClient(fake_comfyui.url, timeout=5) as client:
        await client.system_stats()
        await fake_comfyui.stop()  # drops the kept-alive connection
        restarted = FakeComfyUI(fake_comfyui.root_dir, port=fake_comfyui.port)
        await restarted.start()
        try:
            stats = await client.system_stats()
            prompt_id = await client.submit_prompt(empty_to_save(), "c1")
        finally:
            await restarted.stop()
    assert stats["system"]
    assert restarted.log.prompt(prompt_id)
