"""The cluster API (`/cluster/nodes`) of a real router process, and the health monitor it runs,
with fake ComfyUI nodes."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.live_router import LiveRouter, free_port

NODE_FIELDS = {
    "url", "name", "status", "held", "enabled", "health_failures", "last_seen_at", "device_name",
    "vram_total", "vram_free", "comfyui_version", "labels", "node_classes", "model_files",
    "capabilities_at", "current_task",
}


@pytest.fixture
def api(module_router: LiveRouter) -> Iterator[httpx.Client]:
    with module_router.client() as client:
        yield client


@pytest.fixture
def fake() -> Iterator[FakeComfyUIThread]:
    with FakeComfyUIThread() as server:
        yield server


def listed(api: httpx.Client, url: str) -> dict | None:
    response = api.get("/cluster/nodes")
    assert response.status_code == 200
    return next((node for node in response.json()["nodes"] if node["url"] == url), None)


def set_status(router: LiveRouter, url: str, status: str, held: int) -> None:
    with sqlite3.connect(router.data_dir / "router.sqlite3", timeout=30) as db:
        db.execute(
            "UPDATE nodes_node SET status = ?, held = ? WHERE url = ?", (status, held, url)
        )


def test_adding_a_node_that_answers_makes_it_idle_at_once(
    api: httpx.Client, fake: FakeComfyUIThread
) -> None:
    response = api.post("/cluster/nodes", json={"url": fake.url, "name": "gpu-1"})
    assert response.status_code == 201, response.text
    node = response.json()
    assert set(node) == NODE_FIELDS
    assert node["url"] == fake.url and node["name"] == "gpu-1"
    assert node["status"] == "idle" and node["enabled"] is True
    assert (node["device_name"], node["comfyui_version"]) == ("cpu", "0.8.0")
    assert node["vram_total"] == 25276063744 and node["current_task"] is None


def test_adding_the_same_node_again_is_a_200_with_the_same_node(
    api: httpx.Client, fake: FakeComfyUIThread
) -> None:
    assert api.post("/cluster/nodes", json={"url": fake.url}).status_code == 201
    other_spelling = fake.url.replace("http://", "HTTP://") + "/"
    again = api.post("/cluster/nodes", json={"url": other_spelling})
    assert again.status_code == 200, again.text
    assert again.json()["url"] == fake.url
    assert [n["url"] for n in api.get("/cluster/nodes").json()["nodes"]].count(fake.url) == 1


def test_adding_a_node_that_does_not_answer_registers_it_offline(api: httpx.Client) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    response = api.post("/cluster/nodes", json={"url": url})
    assert response.status_code == 201
    assert response.json()["status"] == "offline"
    assert listed(api, url)["status"] == "offline"  # type: ignore[index]


def test_a_token_is_used_for_the_node_but_never_shown(
    api: httpx.Client, fake: FakeComfyUIThread
) -> None:
    fake.required_token = "s3cret-token"
    assert api.post("/cluster/nodes", json={"url": fake.url}).json()["status"] == "offline"
    fixed = api.post("/cluster/nodes", json={"url": fake.url, "token": "s3cret-token"})
    assert fixed.status_code == 200 and fixed.json()["status"] == "idle"
    assert "s3cret-token" not in fixed.text
    assert "s3cret-token" not in api.get("/cluster/nodes").text
    assert "Bearer s3cret-token" in {record.authorization for record in fake.log.requests}


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://gpu-1:8188"},
        {"url": "http://"},
        {"url": "gpu-1:8188"},
        {"url": ""},
        {"url": 8188},
        {},
    ],
)
def test_a_bad_url_is_a_400_naming_the_field(api: httpx.Client, body: dict) -> None:
    response = api.post("/cluster/nodes", json=body)
    assert response.status_code == 400, response.text
    error = response.json()
    assert set(error) == {"message", "detail"}
    assert list(error["detail"]) == ["url"] and error["detail"]["url"]
    assert error["message"].startswith("url: ")


def test_deleting_an_unknown_node_is_a_404(api: httpx.Client) -> None:
    response = api.post("/cluster/nodes/delete", json={"url": "http://nowhere.example:8188"})
    assert response.status_code == 404
    assert "http://nowhere.example:8188" in response.json()["message"]


def test_deleting_a_node_removes_it(api: httpx.Client, fake: FakeComfyUIThread) -> None:
    api.post("/cluster/nodes", json={"url": fake.url})
    response = api.post("/cluster/nodes/delete", json={"url": fake.url + "/"})
    assert response.status_code == 200, response.text
    assert response.json() == {"url": fake.url, "deleted": True}
    assert listed(api, fake.url) is None


def test_deleting_a_busy_node_is_a_409_unless_forced(
    module_router: LiveRouter, api: httpx.Client, fake: FakeComfyUIThread
) -> None:
    api.post("/cluster/nodes", json={"url": fake.url})
    set_status(module_router, fake.url, "busy", held=1)
    refused = api.post("/cluster/nodes/delete", json={"url": fake.url})
    assert refused.status_code == 409, refused.text
    assert "force" in refused.json()["message"]
    # Still registered. (No task holds it, so the dispatcher's sweep may already have let go.)
    assert listed(api, fake.url) is not None
    bad_flag = api.post("/cluster/nodes/delete?force=maybe", json={"url": fake.url})
    assert bad_flag.status_code == 400 and "force" in bad_flag.json()["detail"]
    forced = api.post("/cluster/nodes/delete?force=true", json={"url": fake.url})
    assert forced.status_code == 200
    assert listed(api, fake.url) is None


def seconds_until(api: httpx.Client, url: str, status: str, timeout: float = 10) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if (listed(api, url) or {}).get("status") == status:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{url} did not become {status} within {timeout}s")


def test_the_router_takes_a_dead_node_out_and_brings_it_back_when_it_answers(
    module_router: LiveRouter, api: httpx.Client, fake: FakeComfyUIThread
) -> None:
    env = module_router.environment()
    interval = float(env["COMFY_ROUTER__HEALTH__INTERVAL"])
    timeout = float(env["COMFY_ROUTER__HEALTH__TIMEOUT"])
    failures = int(env.get("COMFY_ROUTER__HEALTH__FAILURES", "3"))
    slack = 1.5  # HTTP polling and a subprocess on a busy 2-core machine
    assert api.post("/cluster/nodes", json={"url": fake.url}).json()["status"] == "idle"
    fake.stop()
    assert seconds_until(api, fake.url, "offline") <= failures * interval + timeout + slack
    fake.restart()
    assert seconds_until(api, fake.url, "idle") <= interval + slack


def test_the_cluster_api_is_documented(api: httpx.Client) -> None:
    schema = api.get("/doc/openapi.json").json()
    paths = schema["paths"]
    assert {"post", "get"} <= set(paths["/cluster/nodes"])
    assert set(paths["/cluster/nodes/delete"]) == {"post"}
    post = paths["/cluster/nodes"]["post"]
    assert {"200", "201", "400"} <= set(post["responses"])
    assert {"404", "409"} <= set(paths["/cluster/nodes/delete"]["post"]["responses"])
    node_schema = schema["components"]["schemas"]["Node"]
    assert "token" not in node_schema["properties"]
    assert set(node_schema["properties"]) == NODE_FIELDS
