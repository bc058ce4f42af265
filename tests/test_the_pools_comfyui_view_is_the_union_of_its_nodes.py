"""ComfyUI's `/object_info` and `/models` served by the router are the union of what the pool's
nodes report: every class some node has, every model file some node has (in `/models/{folder}`
and in the file lists of the loaders' inputs), and what a node that goes offline has leaves
with it."""

from __future__ import annotations

import asyncio
import copy
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.fake_comfyui import FakeComfyUI, schema
from tests.fake_comfyui.fixtures import install_model
from tests.support.cluster import Cluster


class ComfyUIListingItsFiles(FakeComfyUI):
    """The fake, its `/object_info` listing its own model files in the loaders' file inputs as
    a real ComfyUI does (the fake's recorded answer lists the recording machine's files)."""

    async def object_info(self, request: web.Request) -> web.Response:
        info = copy.deepcopy(schema.object_info())
        for name in self.missing_classes:
            info.pop(name, None)
        for (class_type, input_name), folder in schema.FILE_INPUTS.items():
            spec = info.get(class_type, {}).get("input", {}).get("required", {}).get(input_name)
            if spec and isinstance(spec[0], list):
                extras = [option for option in spec[0] if "." not in option]  # "pixel_space"
                spec[0] = schema.model_files(self.root_dir, folder) + extras
        return web.json_response(info)


class Node:
    """A ComfyUIListingItsFiles on its own loop in a thread."""

    def __init__(self, root_dir: Path, missing_classes: frozenset[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.server = ComfyUIListingItsFiles(root_dir)
        self.server.missing_classes = missing_classes
        self.thread.start()
        self.call(self.server.start())

    def call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        if self.server._runner is not None:
            self.call(self.server.stop())

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture
def two_nodes(
    cluster_factory: Callable[..., Cluster], tmp_path: Path
) -> Iterator[tuple[Cluster, Node, Node]]:
    """Nodes with model files of their own and each without a class the other has."""
    cluster = cluster_factory(nodes=0, COMFY_ROUTER__HEALTH__FAILURES="1")
    install_model(tmp_path / "a", "checkpoints", "a.safetensors")
    install_model(tmp_path / "a", "loras", "detail.safetensors")
    install_model(tmp_path / "b", "checkpoints", "b.safetensors")
    install_model(tmp_path / "b", "vae", "b-vae.safetensors")
    a = Node(tmp_path / "a", frozenset({"ImageInvert"}))
    b = Node(tmp_path / "b", frozenset({"ImageBlur"}))
    try:
        with cluster.client() as client:
            for name, node in (("a", a), ("b", b)):
                added = client.post("/cluster/nodes", json={"url": node.url, "name": name})
                assert added.status_code == 201
        for node in (a, b):
            cluster.wait_for_node(node.url, "idle")
        yield cluster, a, b
    finally:
        a.close()
        b.close()


def eventually(cluster: Cluster, path: str, expected: Any) -> None:
    """Waits until GET `path` answers `expected` (a node says what it has within a check or
    two of turning idle)."""
    deadline = time.monotonic() + 15
    with cluster.client() as client:
        while (answer := client.get(path).json()) != expected:
            assert time.monotonic() < deadline, f"{path} answered {answer}"
            time.sleep(0.05)


def combo(cluster: Cluster, class_type: str, input_name: str) -> list[str]:
    with cluster.client() as client:
        info = client.get(f"/object_info/{class_type}").json()
    return list(info[class_type]["input"]["required"][input_name][0])


def test_model_folders_list_every_file_some_node_has(two_nodes: Any) -> None:
    cluster, _, _ = two_nodes
    eventually(cluster, "/models/checkpoints", ["a.safetensors", "b.safetensors"])
    eventually(cluster, "/api/models/loras", ["detail.safetensors"])
    eventually(cluster, "/models/vae", ["b-vae.safetensors"])


def test_the_loaders_file_inputs_list_every_file_some_node_has(two_nodes: Any) -> None:
    cluster, _, _ = two_nodes
    eventually(cluster, "/models/checkpoints", ["a.safetensors", "b.safetensors"])
    assert combo(cluster, "CheckpointLoaderSimple", "ckpt_name") == [
        "a.safetensors",
        "b.safetensors",
    ]
    assert combo(cluster, "LoraLoader", "lora_name") == ["detail.safetensors"]
    assert combo(cluster, "VAELoader", "vae_name") == ["b-vae.safetensors", "pixel_space"]
    # A choice that is not a file is as the nodes have it.
    samplers = schema.object_info()["KSampler"]["input"]["required"]["sampler_name"][0]
    assert combo(cluster, "KSampler", "sampler_name") == samplers


def test_object_info_has_every_class_some_node_has(two_nodes: Any) -> None:
    cluster, _, _ = two_nodes
    eventually(cluster, "/models/checkpoints", ["a.safetensors", "b.safetensors"])
    with cluster.client() as client:
        classes = client.get("/object_info").json()
    assert set(classes) == set(schema.object_info())
    assert classes["ImageInvert"] == schema.object_info()["ImageInvert"]


def test_what_a_node_that_goes_offline_has_leaves_the_pools_view(two_nodes: Any) -> None:
    cluster, a, b = two_nodes
    eventually(cluster, "/models/checkpoints", ["a.safetensors", "b.safetensors"])
    b.stop()
    cluster.wait_for_node(b.url, "offline")
    eventually(cluster, "/models/checkpoints", ["a.safetensors"])
    eventually(cluster, "/object_info/ImageInvert", {})  # only b had it
    assert combo(cluster, "CheckpointLoaderSimple", "ckpt_name") == ["a.safetensors"]
    with cluster.client() as client:
        assert client.get("/models/vae").json() == []  # a has the folder, empty
        assert "ImageInvert" not in client.get("/object_info").json()
        devices = client.get("/system_stats").json()["devices"]
    assert [device["name"] for device in devices] == ["a: cpu"]
