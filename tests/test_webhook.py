from __future__ import annotations

import hashlib
import hmac
import json

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.webhooks import Receiver

SECRET = "s3cret"


def test_the_webhook_gets_the_final_task_signed_and_is_retried(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=1, COMFY_ROUTER__WEBHOOK_SECRET=SECRET)
    receiver = Receiver(failures=2)
    try:
        task_id = cluster.submit(comfyui_body(tiny_graph(seed=60), webhook={"url": receiver.url}))
        assert receiver.delivered.wait(30)
    finally:
        receiver.close()
    assert len(receiver.received) == 3
    body, headers = receiver.received[-1]
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Comfy-Router-Signature"] == expected
    task = json.loads(body)
    assert task["id"] == task_id
    assert task["status"] == "done"
    assert task["outputs"][0]["content_type"] == "image/png"


def test_a_webhook_to_a_private_address_is_not_sent_when_private_networks_are_blocked(
    cluster_factory,
) -> None:
    cluster: Cluster = cluster_factory(
        nodes=1, COMFY_ROUTER__DOWNLOAD__BLOCK_PRIVATE_NETWORKS="true"
    )
    receiver = Receiver()
    try:
        task_id = cluster.submit(comfyui_body(tiny_graph(seed=61), webhook={"url": receiver.url}))
        assert cluster.wait_for(task_id)["status"] == "done"
        assert not receiver.delivered.wait(2)
    finally:
        receiver.close()
    assert receiver.received == []
    assert "not sent" in cluster.router.log()
