"""A task cancelled while it waits tells its webhook, as one that ends any other way does."""

from __future__ import annotations

import json

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.webhooks import Receiver


def test_a_task_cancelled_before_it_ran_is_delivered_to_its_webhook(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=0)  # no node: the task waits
    receiver = Receiver()
    try:
        task_id = cluster.submit(comfyui_body(tiny_graph(seed=62), webhook={"url": receiver.url}))
        with cluster.client() as client:
            assert client.delete(f"/workflow/{task_id}").status_code == 200
        assert receiver.delivered.wait(15), cluster.router.log()
    finally:
        receiver.close()
    [(body, _)] = receiver.received
    task = json.loads(body)
    assert (task["id"], task["status"]) == (task_id, "cancelled")
