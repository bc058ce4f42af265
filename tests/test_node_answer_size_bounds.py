"""A node's answers are read within bounds: at the bound they are read, one byte past it the
node is misbehaving (NodeProtocolError naming the bound) and nothing is left on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.garbage_comfyui import GarbageNode
from workflows.comfyui.client import ComfyUIClient, MessageTooBig, NodeProtocolError

BOUND = 4096


@pytest.fixture
def node(tmp_path: Path) -> Iterator[GarbageNode]:
    garbage = GarbageNode(tmp_path / "comfyui")
    yield garbage
    garbage.close()


def client_for(node: GarbageNode) -> ComfyUIClient:
    return ComfyUIClient(
        node.url, max_answer_bytes=BOUND, max_view_bytes=BOUND, max_message_bytes=BOUND
    )


async def test_a_json_answer_at_the_bound_is_read(node: GarbageNode) -> None:
    node.server.history_bytes = BOUND
    async with client_for(node) as client:
        assert await client.history("p1") is None  # read and parsed; just not this prompt's


async def test_a_json_answer_one_byte_past_the_bound_is_refused(node: GarbageNode) -> None:
    node.server.history_bytes = BOUND + 1
    async with client_for(node) as client:
        with pytest.raises(NodeProtocolError, match=f"more than {BOUND} bytes"):
            await client.history("p1")


async def test_an_output_file_at_the_bound_is_stored(node: GarbageNode, tmp_path: Path) -> None:
    node.server.view_bytes = BOUND
    async with client_for(node) as client:
        assert await client.download_view("x.png", "", "output", tmp_path / "x.png") == BOUND
    assert (tmp_path / "x.png").stat().st_size == BOUND


async def test_an_output_file_past_the_bound_is_refused_and_nothing_stays(
    node: GarbageNode, tmp_path: Path
) -> None:
    node.server.view_bytes = BOUND * 100
    folder = tmp_path / "outputs"
    folder.mkdir()
    async with client_for(node) as client:
        with pytest.raises(NodeProtocolError, match=f"more than {BOUND} bytes"):
            await client.download_view("x.png", "", "output", folder / "x.png")
    assert list(folder.iterdir()) == []


async def test_a_websocket_message_past_the_bound_closes_the_socket_naming_the_bound(
    node: GarbageNode,
) -> None:
    node.server.frame_bytes = BOUND + 1
    async with client_for(node) as client:
        async with client.websocket("c1", preview_metadata=False) as events:
            with pytest.raises(MessageTooBig, match=f"over {BOUND} bytes"):
                async for _ in events:
                    pass


async def test_a_websocket_message_at_the_bound_is_read(node: GarbageNode) -> None:
    node.server.frame_bytes = BOUND
    async with client_for(node) as client:
        async with client.websocket("c1", preview_metadata=False) as events:
            first = await events.__anext__()
    assert type(first).__name__ == "Unknown"


def test_the_history_padding_is_exact() -> None:
    padding = "a" * (BOUND - len('{"x": ""}'))
    assert len(json.dumps({"x": padding})) == BOUND
