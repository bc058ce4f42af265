"""`Idempotency-Key` on `POST /workflow` and `POST /prompt`: a repeat from the same submitter
gets the first answer and the same task, never a second one; the same key with another body is
a 422; another submitter's same key is its own; a malformed key is a 400 naming the header."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.clients import client_with_key, key_client

HEADER = "Idempotency-Key"


def task_count(cluster: Cluster) -> int:
    with cluster.client() as client:
        return client.get("/workflow", params={"limit": 100}).json()["count"]


@pytest.fixture
def cluster(cluster_factory: Any) -> Cluster:
    return cluster_factory(nodes=0)  # tasks wait: what is counted is what was made


def test_a_workflow_posted_again_with_its_key_gets_the_first_answer_and_task(
    cluster: Cluster,
) -> None:
    key = str(uuid.uuid4())
    body = comfyui_body(tiny_graph(1))
    with cluster.client() as client:
        first = client.post("/workflow", json=body, headers={HEADER: key})
        again = client.post("/workflow", json=body, headers={HEADER: key})
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert task_count(cluster) == 1


def test_a_prompt_posted_again_with_its_key_gets_the_first_answer_and_task(
    cluster: Cluster,
) -> None:
    key = str(uuid.uuid4())
    body = {"prompt": tiny_graph(2), "client_id": "script"}
    with cluster.client() as client:
        first = client.post("/prompt", json=body, headers={HEADER: key})
        again = client.post("/prompt", json=body, headers={HEADER: key})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert task_count(cluster) == 1


def test_a_key_used_again_for_another_body_is_a_422(cluster: Cluster) -> None:
    key = str(uuid.uuid4())
    with cluster.client() as client:
        assert client.post(
            "/workflow", json=comfyui_body(tiny_graph(3)), headers={HEADER: key}
        ).status_code == 202
        other = client.post("/workflow", json=comfyui_body(tiny_graph(4)), headers={HEADER: key})
        assert other.status_code == 422
        assert HEADER in other.json()["message"]
        prompt = client.post("/prompt", json={"prompt": tiny_graph(5)}, headers={HEADER: key})
        assert prompt.status_code == 422
        assert prompt.json()["error"]["type"] == "idempotency_key_reused"
    assert task_count(cluster) == 1


def test_each_submitter_has_its_own_keys(cluster: Cluster) -> None:
    key = "shared-key"
    body = comfyui_body(tiny_graph(6))
    api_key = client_with_key(cluster.router, "team-a")
    with cluster.client() as operator, key_client(cluster.router, api_key) as team:
        mine = operator.post("/workflow", json=body, headers={HEADER: key}).json()
        theirs = team.post("/workflow", json=body, headers={HEADER: key}).json()
        assert team.post("/workflow", json=body, headers={HEADER: key}).json() == theirs
    assert mine["id"] != theirs["id"]
    assert task_count(cluster) == 2


def test_a_malformed_key_is_a_400_naming_the_header(cluster: Cluster) -> None:
    with cluster.client() as client:
        answer = client.post(
            "/workflow", json=comfyui_body(tiny_graph(7)), headers={HEADER: "has spaces"}
        )
        assert answer.status_code == 400
        assert HEADER in answer.json()["detail"]
        prompt = client.post(
            "/prompt", json={"prompt": tiny_graph(8)}, headers={HEADER: "x" * 256}
        )
        assert prompt.status_code == 400
        assert prompt.json()["error"]["type"] == "invalid_idempotency_key"
    assert task_count(cluster) == 0


def test_without_a_key_each_post_makes_a_task(cluster: Cluster) -> None:
    body = comfyui_body(tiny_graph(9))
    with cluster.client() as client:
        first = client.post("/workflow", json=body).json()
        second = client.post("/workflow", json=body).json()
    assert first["id"] != second["id"]
