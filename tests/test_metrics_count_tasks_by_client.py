"""/metrics counts tasks by client and status, and each client's queue, labelled by the client's
name (one series per client, not per key or task)."""

from __future__ import annotations

from tests.support.clients import client_with_key, create_client, key_client
from tests.support.cluster import comfyui_body, tiny_graph
from tests.support.live_router import LiveRouter


def test_metrics_show_each_clients_tasks_and_queue(live_router: LiveRouter) -> None:
    key_a = client_with_key(live_router, "team-a")
    create_client(live_router, "team-idle")
    with key_client(live_router, key_a) as a:
        first = a.post("/workflow", json=comfyui_body(tiny_graph(1))).json()["id"]
        a.post("/workflow", json=comfyui_body(tiny_graph(2)))
        a.delete(f"/workflow/{first}")
    with live_router.client() as operator:
        operator.post("/workflow", json=comfyui_body(tiny_graph(3)))
        text = operator.get("/metrics").text
    assert 'comfy_router_client_tasks{client="team-a",status="pending"} 1.0' in text
    assert 'comfy_router_client_tasks{client="team-a",status="cancelled"} 1.0' in text
    assert 'comfy_router_client_queue_length{client="team-a"} 1.0' in text
    assert 'comfy_router_client_queue_length{client="team-idle"} 0.0' in text
    assert 'comfy_router_client_tasks{client="team-idle",status="done"} 0.0' in text
    assert "comfy_router_queue_length 2.0" in text  # the operator's task counts in the total
