"""deploy/nginx.conf run for real in front of a router (both upstream lines pointed at it): the
API, a task's websocket, and output URLs (a webhook's among them) on the front door's address."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect

from tests.support.cluster import Cluster, comfyui_body, tiny_graph
from tests.support.live_router import CREDENTIALS, PROJECT_DIR, free_port
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")

AUTH = {"Authorization": "Basic " + base64.b64encode(":".join(CREDENTIALS).encode()).decode()}


@pytest.fixture
def front_door(cluster_factory, tmp_path: Path) -> Iterator[tuple[Cluster, str]]:
    cluster: Cluster = cluster_factory(nodes=1)
    port = free_port()
    conf = (PROJECT_DIR / "deploy" / "nginx.conf").read_text()
    conf = re.sub(r"api-\d:8080", f"127.0.0.1:{cluster.router.port}", conf)
    conf = conf.replace("listen 80;", f"listen 127.0.0.1:{port};")
    conf = conf.replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    (tmp_path / "nginx.conf").write_text(conf)
    nginx = subprocess.Popen(
        # One process as the test's user, in the foreground, its temporary files in tmp_path.
        ["nginx", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path),
         "-g", "daemon off; master_process off;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if httpx.get(f"{url}/nginx-health", timeout=1).status_code == 204:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline and nginx.poll() is None, "nginx did not start"
            time.sleep(0.05)
        yield cluster, url
    finally:
        nginx.terminate()
        nginx.wait(10)


def test_a_task_submitted_through_the_front_door_is_watched_and_fetched_through_it(
    front_door: tuple[Cluster, str],
) -> None:
    cluster, url = front_door
    receiver = Receiver()
    try:
        with httpx.Client(base_url=url, auth=CREDENTIALS, timeout=10) as client:
            submitted = client.post(
                "/workflow", json=comfyui_body(tiny_graph(seed=90), webhook={"url": receiver.url})
            )
            assert submitted.status_code == 202, submitted.text
            task_id = submitted.json()["id"]
            ws_url = url.replace("http://", "ws://") + f"/ws/workflow/{task_id}"
            with connect(ws_url, additional_headers=AUTH, open_timeout=10) as socket:
                while (event := json.loads(socket.recv(timeout=30)))["type"] != "finished":
                    pass
            assert event["status"] == "done"
            detail = client.get(f"/workflow/{task_id}").json()
            assert detail["outputs"][0]["url"] == f"{url}/workflow/{task_id}/outputs/0"
        assert receiver.delivered.wait(30)
    finally:
        receiver.close()
    hooked = json.loads(receiver.received[-1][0])
    assert hooked["outputs"][0]["url"] == f"{url}/workflow/{task_id}/outputs/0"
    image = httpx.get(hooked["outputs"][0]["url"], auth=CREDENTIALS, timeout=10)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
