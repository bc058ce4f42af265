"""A client waiting on a task (`?wait=`, the event stream) learns of its end even when nobody
announces it (a worker killed between ending the task and publishing the event): the wait reads
the task's end from the database itself."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable

from tests.support.cluster import Cluster, comfyui_body, tiny_graph


def end_without_announcing(cluster: Cluster, task_id: str) -> None:
    with sqlite3.connect(cluster.router.data_dir / "router.sqlite3") as database:
        database.execute(
            "UPDATE workflows_task SET status = 'cancelled', finished_at = CURRENT_TIMESTAMP "
            "WHERE id = ?",
            [uuid.UUID(task_id).hex],
        )


def test_a_long_poll_answers_soon_after_an_unannounced_end(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=0)  # no node: the task waits until we end it
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=50)))
    threading.Timer(1.0, end_without_announcing, [cluster, task_id]).start()
    started = time.monotonic()
    with cluster.client() as client:
        response = client.get(f"/workflow/{task_id}", params={"wait": "60"}, timeout=30)
    assert response.json()["status"] == "cancelled"
    assert time.monotonic() - started < 10


def test_the_event_stream_ends_with_an_unannounced_end(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=0)
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=51)))
    events = []
    with (
        cluster.client() as client,
        client.stream("GET", f"/workflow/{task_id}/events", timeout=30) as response,
    ):
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            events.append(json.loads(line[len("data: ") :]))
            if len(events) == 1:
                end_without_announcing(cluster, task_id)
    assert [event["type"] for event in events] == ["status", "finished"]
    assert events[-1]["status"] == "cancelled"
