from __future__ import annotations

import base64
import json

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph

AUTH = {"Authorization": "Basic " + base64.b64encode(b"admin:admin").decode()}


def watch(cluster: Cluster, task_id: str, headers: dict[str, str] = AUTH) -> list[dict]:
    url = f"{cluster.router.ws_url}/ws/workflow/{task_id}"
    events = []
    with connect(url, additional_headers=headers, open_timeout=10) as socket:
        while True:
            try:
                event = json.loads(socket.recv(timeout=30))
            except Exception:
                break
            events.append(event)
            if event["type"] == "finished":
                break
    return events


def test_a_watcher_sees_status_progress_preview_and_the_final_event(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 0.05
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=20, steps=8)))
    events = watch(cluster, task_id)
    types = [event["type"] for event in events]
    assert types[0] == "status"
    assert "progress" in types and "preview" in types
    assert types[-1] == "finished"
    final = events[-1]
    assert final["status"] == "done"
    assert final["task"]["outputs"][0]["content_type"] == "image/png"
    progress = [event["progress"] for event in events if event["type"] == "progress"]
    assert progress == sorted(progress) and 0 < progress[-1] <= 1
    preview = next(event["preview"] for event in events if event["type"] == "preview")
    assert preview.startswith("data:image/")


def test_watching_a_finished_task_gives_its_final_event_and_closes(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=21)))
    cluster.wait_for(task_id)
    events = watch(cluster, task_id)
    assert [event["type"] for event in events] == ["finished"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic YWRtaW46bm9wZQ=="}])
def test_the_websocket_needs_basic_auth(cluster: Cluster, headers: dict[str, str]) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=22)))
    with pytest.raises(InvalidStatus):
        watch(cluster, task_id, headers=headers)


def test_the_preview_endpoint_is_public_with_cors_and_never_shows_outputs(cluster: Cluster) -> None:
    import httpx

    task_id = cluster.submit(comfyui_body(tiny_graph(seed=23)))
    cluster.wait_for(task_id)
    response = httpx.get(f"{cluster.router.url}/preview/{task_id}")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert set(response.json()) == {"id", "status", "progress", "preview"}
    assert response.json()["status"] == "done"
