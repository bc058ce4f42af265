from __future__ import annotations

import json

import httpx

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.live_router import CREDENTIALS
from tests.support.webhooks import Receiver


def delivered_task(cluster: Cluster, seed: int) -> dict:
    receiver = Receiver()
    try:
        cluster.submit(comfyui_body(tiny_graph(seed=seed), webhook={"url": receiver.url}))
        assert receiver.delivered.wait(30)
    finally:
        receiver.close()
    body, _ = receiver.received[-1]
    return dict(json.loads(body))


def test_the_webhooks_output_urls_are_on_the_host_the_task_was_submitted_to(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(nodes=1)
    task = delivered_task(cluster, seed=70)
    url = task["outputs"][0]["url"]
    assert url == f"{cluster.router.url}/workflow/{task['id']}/outputs/0"
    response = httpx.get(url, auth=CREDENTIALS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    with cluster.client() as client:
        assert response.content == client.get(f"/workflow/{task['id']}/outputs/0").content


def test_the_webhooks_output_urls_are_on_public_url_when_it_is_set(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=1, COMFY_ROUTER__PUBLIC_URL="https://router.example.com/"
    )
    task = delivered_task(cluster, seed=71)
    assert task["outputs"][0]["url"] == (
        f"https://router.example.com/workflow/{task['id']}/outputs/0"
    )
