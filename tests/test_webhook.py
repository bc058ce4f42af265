from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

from tests.support.cluster import Cluster, comfyui_body, tiny_graph

SECRET = "s3cret"


class Receiver:
    """A webhook receiver on loopback that fails the first `failures` deliveries."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.delivered = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.received.append((body, dict(self.headers)))
                if len(receiver.received) <= receiver.failures:
                    self.send_response(503)
                else:
                    self.send_response(200)
                    receiver.delivered.set()
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}/hook"

    def close(self) -> None:
        self.server.shutdown()


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
