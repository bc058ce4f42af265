"""A websocket path with no route is refused with close code 4404, as an unknown task is; the
router used to raise for it, which was a 500 on the handshake and a traceback in the log."""

from __future__ import annotations

import pytest

from tests.support.websockets import websocket_to


@pytest.mark.parametrize(
    "path", ["/ws/workflow", "/ws/workflow/", "/ws/workflow/abc/x", "/ws/other", "/"]
)
async def test_a_path_with_no_route_is_refused_with_4404(path: str) -> None:
    communicator = websocket_to(path)
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4404)


async def test_it_needs_basic_auth_first_like_every_websocket_path() -> None:
    communicator = websocket_to("/ws/other")
    communicator.scope["headers"] = []
    connected, code = await communicator.connect()
    assert (connected, code) == (False, 4401)
