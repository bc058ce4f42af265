"""`?wait=S` on a submission and on a task's GET: the answer comes once the task has ended, or
after S seconds as it would have without the wait."""

from __future__ import annotations

import time

import pytest

from tests.support.cluster import Cluster, comfyui_body, sampler_graph, tiny_graph


def test_a_submission_with_wait_answers_200_with_the_finished_task(cluster: Cluster) -> None:
    with cluster.client() as client:
        response = client.post(
            "/workflow", params={"wait": "20"}, timeout=30, json=comfyui_body(tiny_graph(seed=1))
        )
    assert response.status_code == 200, response.text
    task = response.json()
    assert task["status"] == "done"
    assert task == cluster.task(task["id"])


def test_a_submission_that_outlasts_its_wait_answers_the_usual_202(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 1.0
    started = time.monotonic()
    with cluster.client() as client:
        response = client.post(
            "/workflow", params={"wait": "1.5"}, json=comfyui_body(sampler_graph(seed=2, steps=20))
        )
    took = time.monotonic() - started
    assert response.status_code == 202, response.text
    assert response.headers["Location"] == f"/workflow/{response.json()['id']}"
    assert 1.4 < took < 5


def test_a_get_with_wait_answers_once_the_task_has_ended(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 0.2
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=3, steps=8)))
    with cluster.client() as client:
        response = client.get(f"/workflow/{task_id}", params={"wait": "20"}, timeout=30)
    assert response.status_code == 200
    assert response.json()["status"] == "done"


def test_a_get_with_wait_answers_the_task_as_it_is_after_the_wait(cluster: Cluster) -> None:
    cluster.nodes[0].step_delay = 1.0
    task_id = cluster.submit(comfyui_body(sampler_graph(seed=4, steps=20)))
    started = time.monotonic()
    with cluster.client() as client:
        response = client.get(f"/workflow/{task_id}", params={"wait": "1"})
    took = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["status"] in ("pending", "running")
    assert 0.9 < took < 5


@pytest.mark.parametrize("wait", ["0", "-1", "301", "nan", "inf", "soon"])
def test_a_bad_wait_is_a_400_naming_wait(cluster: Cluster, wait: str) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=5)))
    with cluster.client() as client:
        submitted = client.post(
            "/workflow", params={"wait": wait}, json=comfyui_body(tiny_graph(seed=6))
        )
        got = client.get(f"/workflow/{task_id}", params={"wait": wait})
    for response in (submitted, got):
        assert response.status_code == 400, response.text
        assert "wait" in response.json()["detail"]


def test_waiting_needs_basic_auth(cluster: Cluster) -> None:
    task_id = cluster.submit(comfyui_body(tiny_graph(seed=7)))
    with cluster.client(auth=None) as client:
        assert client.get(f"/workflow/{task_id}", params={"wait": "5"}).status_code == 401
        assert (
            client.post(
                "/workflow", params={"wait": "5"}, json=comfyui_body(tiny_graph(seed=8))
            ).status_code
            == 401
        )
