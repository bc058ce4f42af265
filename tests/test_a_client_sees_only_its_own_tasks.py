"""A client lists, reads, waits on, streams, cancels and downloads only its own tasks: another
client's task id answers 404 exactly as an unknown id does. The operator sees every task."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx

from tests.support.clients import client_with_key, key_client
from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter


def same_but_the_id(response: httpx.Response, unknown: httpx.Response, task_id: str) -> None:
    assert response.status_code == unknown.status_code == 404
    body = response.json()
    assert set(body) == {"message", "detail"}
    unknown_id = unknown.url.path.split("/")[2]
    assert body["message"].replace(task_id, unknown_id) == unknown.json()["message"]


def test_another_clients_task_is_a_404_like_an_unknown_one(live_router: LiveRouter) -> None:
    key_a = client_with_key(live_router, "team-a")
    key_b = client_with_key(live_router, "team-b")
    with key_client(live_router, key_a) as a:
        task_id = a.post("/workflow", json=comfyui_body(tiny_graph(1))).json()["id"]
        assert a.get(f"/workflow/{task_id}").status_code == 200
    unknown = str(uuid.uuid4())
    with key_client(live_router, key_b) as b:
        for method, path, params in [
            ("GET", "/workflow/{}", {}),
            ("GET", "/workflow/{}", {"wait": "0.1"}),
            ("HEAD", "/workflow/{}", {}),
            ("GET", "/workflow/{}/events", {}),
            ("GET", "/workflow/{}/outputs/0", {}),
            ("DELETE", "/workflow/{}", {}),
        ]:
            theirs = b.request(method, path.format(task_id), params=params)
            nobodys = b.request(method, path.format(unknown), params=params)
            if method == "HEAD":
                assert theirs.status_code == nobodys.status_code == 404
                continue
            same_but_the_id(theirs, nobodys, task_id)
        assert b.get("/workflow").json()["count"] == 0
        assert b.post("/workflow", json=comfyui_body(tiny_graph(2))).status_code == 202
        assert b.get("/workflow").json()["count"] == 1
    with live_router.client() as operator:
        assert operator.get("/workflow").json()["count"] == 2
        assert operator.get(f"/workflow/{task_id}").json()["status"] == "pending"
    with key_client(live_router, key_a) as a:
        listed = a.get("/workflow").json()
        assert [task["id"] for task in listed["results"]] == [task_id]
        assert a.delete(f"/workflow/{task_id}").json()["status"] == "cancelled"


def test_only_its_client_and_the_operator_download_a_tasks_outputs(
    cluster_factory: Callable[..., Cluster],
) -> None:
    cluster = cluster_factory(nodes=1)
    router = cluster.router
    key_a = client_with_key(router, "team-a")
    key_b = client_with_key(router, "team-b")
    with key_client(router, key_a) as a:
        submitted = a.post("/workflow", json=comfyui_body(tiny_graph(3)), params={"wait": "20"})
        assert submitted.status_code == 200, submitted.text
        assert submitted.json()["status"] == "done"
        task_id = submitted.json()["id"]
        own = a.get(f"/workflow/{task_id}/outputs/0")
        assert own.status_code == 200 and own.content
        events = a.get(f"/workflow/{task_id}/events")
        assert '"finished"' in events.text
    with key_client(router, key_b) as b:
        assert b.get(f"/workflow/{task_id}/outputs/0").status_code == 404
        assert b.delete(f"/workflow/{task_id}").status_code == 404  # not a 409: not its task
    with router.client() as operator:
        assert operator.get(f"/workflow/{task_id}/outputs/0").content == own.content
    # The public preview stays open to whoever has the id, as before.
    assert httpx.get(f"{router.url}/preview/{task_id}").status_code == 200
