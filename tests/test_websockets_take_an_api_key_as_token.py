"""`WS /ws/workflow/{id}` takes a client's key as `?token=` (or a Bearer header): the client
watches its own task; another client's task is refused as an unknown one is, and a bad key as bad
Basic credentials are."""

from __future__ import annotations

import json
import uuid

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.clients import client_with_key, key_client
from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter


def refusal(url: str, headers: dict[str, str] | None = None) -> int:
    with pytest.raises(InvalidStatus) as refused:
        with connect(url, additional_headers=headers, open_timeout=10):
            pass
    return refused.value.response.status_code


def test_a_client_watches_its_own_task_with_its_key_as_token(live_router: LiveRouter) -> None:
    key_a = client_with_key(live_router, "team-a")
    key_b = client_with_key(live_router, "team-b")
    with key_client(live_router, key_a) as a:
        task_id = a.post("/workflow", json=comfyui_body(tiny_graph(1))).json()["id"]
        url = f"{live_router.ws_url}/ws/workflow/{task_id}"
        with connect(f"{url}?token={key_a}", open_timeout=10) as socket:
            assert json.loads(socket.recv(timeout=10))["status"] == "pending"
            assert a.delete(f"/workflow/{task_id}").status_code == 200
            final = json.loads(socket.recv(timeout=10))
            assert (final["type"], final["status"]) == ("finished", "cancelled")
    headers = {"Authorization": f"Bearer {key_a}"}
    with connect(url, additional_headers=headers, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["type"] == "finished"

    unknown = f"{live_router.ws_url}/ws/workflow/{uuid.uuid4()}?token={key_b}"
    assert refusal(f"{url}?token={key_b}") == refusal(unknown)
    bad_basic = refusal(url, {"Authorization": "Basic YWRtaW46bm9wZQ=="})
    assert refusal(f"{url}?token=cr_{'A' * 43}") == bad_basic
    assert refusal(f"{url}?token=nonsense") == bad_basic
