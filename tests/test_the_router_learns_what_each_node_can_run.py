"""The router learns what each node can run from ComfyUI itself (`/object_info`, `/models`): when
the node is registered, when it comes back, and every NODE__CAPABILITIES_INTERVAL seconds, never
on every health check."""

from __future__ import annotations

import time
from typing import Any

from tests.fake_comfyui import FakeComfyUIThread
from tests.fake_comfyui.schema import object_info
from tests.support.cluster import Cluster


def described(cluster: Cluster, url: str) -> dict[str, Any]:
    with cluster.client() as client:
        [node] = [n for n in client.get("/cluster/nodes").json()["nodes"] if n["url"] == url]
    return dict(node)


def object_info_asks(fake: FakeComfyUIThread) -> int:
    return sum(1 for record in fake.log.requests if record.path.endswith("/object_info"))


def test_a_registered_node_says_its_classes_and_model_files(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(nodes=0, COMFY_ROUTER__HEALTH__INTERVAL="0.1")
    fake = cluster.add_node(missing_classes=frozenset({"ImageInvert"}))
    node = described(cluster, fake.url)
    assert node["node_classes"] == len(object_info()) - 1
    assert "tiny.safetensors" in node["model_files"]["checkpoints"]
    assert node["capabilities_at"] is not None
    asked = object_info_asks(fake)
    assert asked <= 2  # the registration, and a health check that met it
    time.sleep(1.0)  # some ten health checks more
    assert object_info_asks(fake) == asked


def test_a_node_is_asked_again_when_it_comes_back(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=0, COMFY_ROUTER__HEALTH__INTERVAL="0.1", COMFY_ROUTER__HEALTH__FAILURES="2"
    )
    fake = cluster.add_node()
    fake.stop()
    cluster.wait_for_node(fake.url, "offline")
    fake.missing_classes = frozenset({"ImageInvert", "ImageBlur"})
    fake.restart()
    cluster.wait_for_node(fake.url, "idle")
    deadline = time.monotonic() + 10
    while described(cluster, fake.url)["node_classes"] != len(object_info()) - 2:
        assert time.monotonic() < deadline, "the node's classes were not asked again"
        time.sleep(0.05)


def test_a_node_is_asked_again_once_the_interval_has_passed(cluster_factory) -> None:
    cluster: Cluster = cluster_factory(
        nodes=0,
        COMFY_ROUTER__HEALTH__INTERVAL="0.1",
        COMFY_ROUTER__NODE__CAPABILITIES_INTERVAL="1",
    )
    fake = cluster.add_node()
    deadline = time.monotonic() + 10
    while object_info_asks(fake) < 3:
        assert time.monotonic() < deadline, "the node was not asked again"
        time.sleep(0.05)
    assert object_info_asks(fake) <= 5  # about once a second, not every 0.1 s check
