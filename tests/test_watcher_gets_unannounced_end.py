"""A websocket watcher gets the final event even when nobody announces it (a worker killed
between ending the task and publishing the event): the consumer reads the task's end from the
database itself."""

from __future__ import annotations

import json
import sqlite3
import uuid

from websockets.sync.client import connect

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.test_live_updates import AUTH


def test_a_watcher_gets_the_final_event_of_a_task_ended_without_an_announcement(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(nodes=0)  # no node: the task waits until we end it
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=5)))
    url = f"{cluster.router.ws_url}/ws/workflow/{task_id}"
    with connect(url, additional_headers=AUTH, open_timeout=10) as socket:
        assert json.loads(socket.recv(timeout=10))["status"] == "pending"
        with sqlite3.connect(cluster.router.data_dir / "router.sqlite3") as database:
            database.execute(
                "UPDATE workflows_task SET status = 'cancelled', finished_at = CURRENT_TIMESTAMP "
                "WHERE id = ?",
                [uuid.UUID(task_id).hex],
            )
        final = json.loads(socket.recv(timeout=30))
    assert final["type"] == "finished"
    assert final["status"] == "cancelled"
