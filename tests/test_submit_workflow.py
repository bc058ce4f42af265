from __future__ import annotations

import uuid

from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter


def test_post_answers_202_with_the_id_and_a_location_at_once(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        response = client.post("/workflow", json=comfyui_body(tiny_graph()))
        assert response.status_code == 202, response.text
        task_id = response.json()["id"]
        assert uuid.UUID(task_id)
        assert response.headers["Location"] == f"/workflow/{task_id}"
        task = client.get(response.headers["Location"]).json()
    assert task["status"] == "pending"
    assert task["queue_position"] == 1
    assert task["outputs"] == [] and task["error"] is None and task["node"] is None


def test_queue_positions_follow_submission_order(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        ids = [client.post("/workflow", json=comfyui_body(tiny_graph(i))).json()["id"] for i in range(3)]
        positions = [client.get(f"/workflow/{i}").json()["queue_position"] for i in ids]
    assert positions == [1, 2, 3]


def test_an_invalid_body_is_a_400_naming_the_field(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        response = client.post("/workflow", json={"type": "Nope", "params": {}})
        assert response.status_code == 400
        assert "type" in response.json()["detail"]
        response = client.post(
            "/workflow",
            json={"type": "SD15", "params": {"checkpoint": {"type": "build_in", "name": "a.ckpt"},
                                             "prompt": "cat", "width": 513}},
        )
        assert response.status_code == 400
        assert "params.width" in response.json()["detail"]
        assert client.get("/workflow").json()["count"] == 0  # nothing half-stored


def test_an_unknown_task_is_a_json_404(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        response = client.get(f"/workflow/{uuid.uuid4()}")
    assert response.status_code == 404
    assert "No task" in response.json()["message"]


def test_the_list_is_newest_first_paginated_and_filters_by_status(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        ids = [client.post("/workflow", json=comfyui_body(tiny_graph(i))).json()["id"] for i in range(3)]
        client.delete(f"/workflow/{ids[0]}")
        page = client.get("/workflow", params={"limit": 2}).json()
        assert page["count"] == 3
        assert [t["id"] for t in page["results"]] == [ids[2], ids[1]]
        assert page["next"]
        cancelled = client.get("/workflow", params={"status": "cancelled"}).json()
        assert [t["id"] for t in cancelled["results"]] == [ids[0]]
        bad = client.get("/workflow", params={"status": "sleeping"})
        assert bad.status_code == 400 and "status" in bad.json()["detail"]


def test_the_seed_is_reported_back_even_at_comfyuis_maximum(live_router: LiveRouter) -> None:
    params = {"checkpoint": {"type": "build_in", "name": "a.safetensors"}, "prompt": "a cat"}
    with live_router.client() as client:
        chosen = client.post("/workflow", json={"type": "SD15", "params": params}).json()["id"]
        biggest = client.post(
            "/workflow", json={"type": "SD15", "params": {**params, "seed": 2**64 - 1}}
        ).json()["id"]
        assert isinstance(client.get(f"/workflow/{chosen}").json()["seed"], int)
        assert client.get(f"/workflow/{biggest}").json()["seed"] == 2**64 - 1
