"""What the bench scripts share: a router (`manage.py serve`, or bench/support/serve.py) and fake
ComfyUI nodes on loopback in a temporary directory, plus the nodes' timeline (support.timeline),
the router's /metrics, figures and a table printer."""

from __future__ import annotations

import gc
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_DIR))

import httpx  # noqa: E402

from tests.fake_comfyui import FakeComfyUIThread  # noqa: E402
from tests.support.live_router import LiveRouter  # noqa: E402

from .timeline import Spread as Spread  # noqa: E402  (re-exported for the benches)

LAUNCHER = "bench/support/serve.py"


@dataclass
class Setup:
    router: LiveRouter
    nodes: list[FakeComfyUIThread] = field(default_factory=list)

    def add_nodes(self, count: int, **knobs: Any) -> list[FakeComfyUIThread]:
        """Starts `count` fakes and registers them at once (each POST checks its node): all the
        POSTs leave together, over one client made beforehand (making a client per thread loads
        the CA bundle each time, which spread the registrations over most of a second)."""
        fakes = [FakeComfyUIThread(self.router.root_dir, **knobs) for _ in range(count)]
        self.nodes.extend(fakes)
        limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
        with self.router.client(limits=limits) as client:

            def register(fake: FakeComfyUIThread) -> None:
                response = client.post("/cluster/nodes", json={"url": fake.url})
                assert response.status_code in (200, 201), response.text

            with ThreadPoolExecutor(count) as pool:
                list(pool.map(register, fakes))
        return fakes

    def set_all_nodes_enabled(self, enabled: bool) -> None:
        """Enables or disables every node at once, as an operator does in the admin (the
        changelist's bulk action over all nodes, in one request)."""
        changelist = "/admin/nodes/node/"
        with self.router.client() as client:
            assert client.get(changelist).status_code == 200  # sets the CSRF cookie
            response = client.post(
                changelist,
                data={
                    "action": "enable_nodes" if enabled else "disable_nodes",
                    "select_across": "1",
                    "index": "0",
                    "_selected_action": "0",
                    "csrfmiddlewaretoken": client.cookies["csrftoken"],
                },
                headers={"Referer": self.router.url + changelist},
            )
            assert response.status_code == 302, response.text

    def wait_idle(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self.router.client() as client:
            while time.monotonic() < deadline:
                nodes = client.get("/cluster/nodes").json()["nodes"]
                if sum(node["status"] == "idle" for node in nodes) >= count:
                    return
                time.sleep(0.05)
        raise RuntimeError(f"fewer than {count} nodes idle after {timeout}s")

    def cpu_seconds(self) -> float:
        """CPU time the router process has used so far, all its threads (user + system)."""
        assert self.router.process is not None
        stat = Path(f"/proc/{self.router.process.pid}/stat").read_text()
        fields = stat.rpartition(")")[2].split()  # after the command name, which may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_bytes(self) -> tuple[int, int]:
        """The router's resident memory now and at its peak."""
        assert self.router.process is not None
        fields = {}
        for line in Path(f"/proc/{self.router.process.pid}/status").read_text().splitlines():
            name, _, value = line.partition(":")
            fields[name] = value
        return int(fields["VmRSS"].split()[0]) * 1024, int(fields["VmHWM"].split()[0]) * 1024


@contextmanager
def running(*flags: str, **env: str) -> Iterator[Setup]:
    """A router in a fresh temporary directory; stopped and removed on the way out."""
    base = Path(tempfile.mkdtemp(prefix="comfy-router-bench-"))
    command = (LAUNCHER, *flags) if flags else ("manage.py", "serve")
    env.setdefault("COMFY_ROUTER__LOG_LEVEL", "WARNING")
    env.setdefault("COMFY_ROUTER__HEALTH__INTERVAL", "5")  # the default, not the tests' 0.2 s
    router = LiveRouter(base_dir=base, env_overrides=env, command=command)
    setup = Setup(router.start(timeout=60))
    try:
        yield setup
    finally:
        for fake in setup.nodes:
            fake.close()
        router.stop()
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def fakes_without_pauses() -> Iterator[None]:
    """No garbage collection in this process meanwhile (collected after). The fake nodes share
    this process, and its heap grows with every prompt they log: a full collection here stopped
    every one of them at once, for up to 90 ms each time (20 nodes' prompts running 70–95 ms
    long together), as no pool of ComfyUI servers, each its own process, ever stops."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect()


def tiny_graph(seed: int) -> dict[str, Any]:
    """Two nodes, no model: with the fake's `node_delay` it lasts 2 × node_delay."""
    return image_tree(seed, 1)


def image_tree(seed: int, leaves: int) -> dict[str, Any]:
    """2 × `leaves` nodes, no model: `leaves` images, composited pairwise up a balanced tree, and
    a save; with the fake's `node_delay` it lasts 2 × leaves × node_delay. A tree, not a chain:
    the fake's cache key for a node holds its inputs' keys, escaped once more at each level, so
    it grows exponentially with depth (a 60-node chain took 24 GB). The seed (the images'
    colour) keeps two graphs apart, and each image's width the images of one, so the node's
    cache never serves one node from another."""
    assert leaves >= 1, "one image at least"
    graph: dict[str, Any] = {}

    def add(node: dict[str, Any]) -> str:
        node_id = str(len(graph) + 1)
        graph[node_id] = node
        return node_id

    def subtree(first: int, count: int) -> str:
        if count == 1:
            size = {"width": 8 + first, "height": 8, "batch_size": 1}
            return add({"class_type": "EmptyImage", "inputs": {**size, "color": seed % 0xFFFFFF}})
        left = subtree(first, count // 2)
        right = subtree(first + count // 2, count - count // 2)
        return add(
            {
                "class_type": "ImageCompositeMasked",
                "inputs": {
                    "destination": [left, 0],
                    "source": [right, 0],
                    "x": 0,
                    "y": 0,
                    "resize_source": False,
                },
            }
        )

    add({"class_type": "SaveImageWebsocket", "inputs": {"images": [subtree(0, leaves), 0]}})
    return graph


def image_tree_seed(graph: dict[str, Any]) -> int:
    """The seed an `image_tree` (or `tiny_graph`) was made with, below 0xFFFFFF."""
    return int(graph["1"]["inputs"]["color"])


def checkpoint_graph(checkpoint: str, seed: int) -> dict[str, Any]:
    """A checkpoint loader and a save: the fake charges `load_time` when the checkpoint changes."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": checkpoint}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["5", 0], "vae": ["4", 2]}},
        "5": {
            "class_type": "EmptyLatentImage",
            "inputs": {"width": 16, "height": 16, "batch_size": 1 + seed % 4},
        },
        "9": {"class_type": "SaveImageWebsocket", "inputs": {"images": ["8", 0]}},
    }


def wait_finished(http: httpx.Client, count: int, timeout: float = 900) -> None:
    """Waits until `count` tasks have ended; fails when one did not end done. Polls lightly (one
    count a quarter second): the router's time is what the benchmarks measure."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        done = http.get("/workflow", params={"status": "done", "limit": 1}).json()["count"]
        if done >= count or polls % 8 == 0:
            for status in ("error", "cancelled"):
                failed = http.get("/workflow", params={"status": status, "limit": 1}).json()
                if failed["count"]:
                    raise RuntimeError(f"{failed['count']} task(s) {status}: {failed['results'][:1]}")
        if done >= count:
            return
        time.sleep(0.25)
    raise RuntimeError(f"{count} tasks did not end within {timeout:g} s")


def metric_samples(http: httpx.Client) -> dict[str, float]:
    """The router's /metrics, each sample's value by its name, summed over its labels (e.g.
    `comfy_router_steals_total`, `comfy_router_node_idle_seconds_count`)."""
    from prometheus_client.parser import text_string_to_metric_families

    response = http.get("/metrics")
    assert response.status_code == 200, response.text
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[sample.name] = samples.get(sample.name, 0.0) + sample.value
    return samples


def comfyui_body(graph: dict[str, Any]) -> dict[str, Any]:
    return {"type": "ComfyUI", "params": {"prompt": graph}}


def machine() -> str:
    """Printed beside the figures: they mean little without the machine's load."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores, load average {one:.1f} / {five:.1f} (1 / 5 min)"


def django_in_this_process(prefix: str) -> None:
    """Sets the router's Django up in the bench's own process, on a fresh temporary data
    directory (its cache and ComfyUI folders inside), for a bench that calls the router's code
    directly rather than through a server."""
    data = tempfile.mkdtemp(prefix=prefix)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="comfy_router.settings",
        COMFY_ROUTER__DATA_DIR=data,
        COMFY_ROUTER__DOWNLOAD__CACHE_DIR=f"{data}/cache",
        COMFY_ROUTER__DOWNLOAD__ROOT_DIR=f"{data}/comfyui",
    )
    import django

    django.setup()


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(h) for h in headers]] + [[fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)
