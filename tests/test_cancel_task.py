from __future__ import annotations

import sqlite3
import time

from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph
from tests.support.file_server import FileServer, file_server  # noqa: F401  (fixture)
from tests.support.live_router import LiveRouter
from tests.workflow_params import body, custom, sd15_params


def test_cancelling_a_pending_task_dequeues_it_at_once(live_router: LiveRouter) -> None:
    with live_router.client() as client:
        task_id = client.post("/workflow", json=comfyui_body(tiny_graph())).json()["id"]
        response = client.delete(f"/workflow/{task_id}")
        assert response.status_code == 200
        assert response.json()["status"] == "cancelled"
        assert client.get(f"/workflow/{task_id}").json()["queue_position"] is None


def test_cancelling_a_task_waiting_for_a_node_releases_its_downloaded_files(
    cluster: Cluster, file_server: FileServer  # noqa: F811
) -> None:
    cluster.nodes[0].stop()
    cluster.wait_for_node(cluster.nodes[0].url, "offline")
    url = file_server.url("/files/waiting.safetensors?size=1000")
    task_id = cluster.submit(body("SD15", sd15_params(checkpoint=custom(url))))
    deadline = time.monotonic() + 30
    while cluster.task(task_id)["status"] != "pending" or file_server.hits[url_path(url)] == 0:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    with cluster.client() as client:
        assert client.delete(f"/workflow/{task_id}").json()["status"] == "cancelled"
    database = sqlite3.connect(cluster.router.data_dir / "router.sqlite3")
    assert database.execute("SELECT count(*) FROM downloads_cacheuse").fetchone()[0] == 0
    database.close()


def url_path(url: str) -> str:
    return "/" + url.split("/", 3)[3].split("?")[0]


def test_cancelling_a_running_task_interrupts_it_on_the_node(cluster: Cluster) -> None:
    node = cluster.nodes[0]
    node.step_delay = 0.2
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=11, steps=100)))
    cluster.wait_for(task_id, statuses=("running",))
    while not node.log.prompts or node.log.prompts[0].started is None:
        time.sleep(0.05)
    with cluster.client() as client:
        assert client.delete(f"/workflow/{task_id}").status_code == 200
    task = cluster.wait_for(task_id)
    assert task["status"] == "cancelled", task
    assert node.log.prompts[0].outcome == "interrupted"
    assert any(r.path == "/interrupt" for r in node.log.requests)
    cluster.wait_for_node(node.url, "idle")


def test_the_next_task_runs_after_a_cancel(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 0.2
    first = cluster.submit(comfyui_body(sampler_graph(seed=12, steps=100)))
    second = cluster.submit(comfyui_body(tiny_graph(seed=12)))
    cluster.wait_for(first, statuses=("running",))
    with cluster.client() as client:
        client.delete(f"/workflow/{first}")
    assert cluster.wait_for(second)["status"] == "done"


def test_cancelling_a_finished_task_is_a_409(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=13)))
    cluster.wait_for(task_id)
    with cluster.client() as client:
        response = client.delete(f"/workflow/{task_id}")
    assert response.status_code == 409
    assert "already done" in response.json()["message"]


def test_cancelling_a_downloading_task_ends_it_and_releases_its_cache_pins(
    cluster: Cluster, file_server: FileServer  # noqa: F811
) -> None:
    url = file_server.url("/slow/big.safetensors?size=2000000&delay=0.05")
    task_id = cluster.submit(body("SD15", sd15_params(checkpoint=custom(url))))
    cluster.wait_for(task_id, statuses=("downloading",))
    with cluster.client() as client:
        response = client.delete(f"/workflow/{task_id}")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    database = sqlite3.connect(cluster.router.data_dir / "router.sqlite3")
    deadline = time.monotonic() + 30
    while database.execute("SELECT count(*) FROM downloads_cacheuse").fetchone()[0]:
        assert time.monotonic() < deadline, "the cancelled task still pins its cache entry"
        time.sleep(0.1)
    database.close()
    assert cluster.task(task_id)["status"] == "cancelled"
    assert cluster.nodes[0].log.prompts == []
