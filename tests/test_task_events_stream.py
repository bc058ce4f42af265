"""`GET /workflow/{id}/events`: the task websocket's events as Server-Sent Events, ending after
the final one."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable

import httpx

from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph


def read_events(client: httpx.Client, task_id: str) -> tuple[httpx.Response, list[dict]]:
    events = []
    headers = {"Accept": "text/event-stream"}
    with client.stream(
        "GET", f"/workflow/{task_id}/events", headers=headers, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[len("data: ") :]))
    return response, events


def test_the_stream_carries_status_progress_preview_and_ends_after_the_final_event(
    cluster: Cluster,
) -> None:
    cluster.nodes[0].step_delay = 0.05
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=30, steps=8)))
    with cluster.client() as client:
        response, events = read_events(client, task_id)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    types = [event["type"] for event in events]
    assert types[0] == "status"
    assert "progress" in types and "preview" in types
    assert types[-1] == "finished" and types.count("finished") == 1
    assert events[-1]["status"] == "done"
    assert events[-1]["task"]["id"] == task_id
    assert events[-1]["task"]["outputs"][0]["content_type"] == "image/png"


def test_a_client_that_connects_after_the_end_gets_the_final_event_at_once(
    cluster: Cluster,
) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=31)))
    cluster.wait_for(task_id)
    with cluster.client() as client:
        _, events = read_events(client, task_id)
    assert [event["type"] for event in events] == ["finished"]


def test_the_stream_needs_basic_auth_and_an_existing_task(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=32)))
    with cluster.client(auth=None) as client:
        refused = client.get(f"/workflow/{task_id}/events", headers={"Accept": "text/event-stream"})
    assert refused.status_code == 401
    with cluster.client() as client:
        missing = client.get(
            f"/workflow/{uuid.uuid4()}/events", headers={"Accept": "text/event-stream"}
        )
    assert missing.status_code == 404
    assert missing.headers["Content-Type"] == "application/json"
    assert "message" in missing.json()


def test_a_head_of_the_stream_answers_its_headers_at_once(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 1.0
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=33, steps=20)))
    with cluster.client() as client:
        response = client.head(f"/workflow/{task_id}/events", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")


def test_a_quiet_stream_sends_a_keep_alive_comment(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=0)  # no node: the task waits, and nothing happens
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=34)))
    started = time.monotonic()
    with (
        cluster.client() as client,
        client.stream("GET", f"/workflow/{task_id}/events", timeout=30) as response,
    ):
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        comment = next(line for line in lines if line)
    assert comment == ": keep-alive"
    assert 14 < time.monotonic() - started < 25
