"""A real router with fake ComfyUI nodes on loopback, sharing one ComfyUI root directory."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.fake_comfyui import FakeComfyUIThread
from tests.support.live_router import LiveRouter

FINISHED = ("done", "error", "cancelled")


@dataclass
class Cluster:
    router: LiveRouter
    nodes: list[FakeComfyUIThread] = field(default_factory=list)

    def client(self, **kwargs: Any) -> httpx.Client:
        return self.router.client(**kwargs)

    def add_node(self, **knobs: Any) -> FakeComfyUIThread:
        fake = FakeComfyUIThread(self.router.root_dir, **knobs)
        self.nodes.append(fake)
        with self.client() as client:
            response = client.post("/cluster/nodes", json={"url": fake.url})
            assert response.status_code in (200, 201), response.text
        self.wait_for_node(fake.url, "idle")
        return fake

    def node_status(self, url: str) -> str | None:
        with self.client() as client:
            for node in client.get("/cluster/nodes").json()["nodes"]:
                if node["url"] == url:
                    return str(node["status"])
        return None

    def wait_for_node(self, url: str, status: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.node_status(url) == status:
                return
            time.sleep(0.05)
        raise AssertionError(f"node {url} did not become {status}; it is {self.node_status(url)}")

    def submit(self, body: dict[str, Any]) -> str:
        with self.client() as client:
            response = client.post("/workflow", json=body)
        assert response.status_code == 202, response.text
        return str(response.json()["id"])

    def task(self, task_id: str, **params: str) -> dict[str, Any]:
        with self.client() as client:
            response = client.get(f"/workflow/{task_id}", params=params)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def wait_for(
        self, task_id: str, statuses: tuple[str, ...] = FINISHED, timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        task = self.task(task_id)
        while time.monotonic() < deadline:
            if task["status"] in statuses:
                return task
            time.sleep(0.05)
            task = self.task(task_id)
        raise AssertionError(f"task {task_id} is still {task['status']}, not {statuses}: {task}")

    def close(self) -> None:
        for fake in self.nodes:
            fake.close()


def tiny_graph(seed: int = 0, save: str = "SaveImageWebsocket") -> dict[str, Any]:
    """A graph ComfyUI runs in milliseconds; `seed` varies the colour so it is never cached."""
    inputs: dict[str, Any] = {"images": ["1", 0]}
    if save == "SaveImage":
        inputs["filename_prefix"] = "router_test"
    return {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": seed % 0xFFFFFF},
        },
        "2": {"class_type": save, "inputs": inputs},
    }


def sampler_graph(seed: int = 0, steps: int = 4) -> dict[str, Any]:
    """A checkpoint + KSampler graph (the fake needs models/checkpoints/tiny.safetensors)."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny.safetensors"}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
        "3": {
            "class_type": "KSampler",
            "inputs": {
                "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler",
                "scheduler": "normal", "denoise": 1.0, "model": ["4", 0],
                "positive": ["6", 0], "negative": ["7", 0], "latent_image": ["5", 0],
            },
        },
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]}},
    }


def comfyui_body(graph: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "ComfyUI", "params": {"prompt": graph}, **extra}
