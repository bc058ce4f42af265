"""Graph walking for the fake: ComfyUI's execution order, cache signatures and image shapes.

The order reproduces `comfy_execution.graph.ExecutionList`: nodes are added depth first from
each output (skipping cached inputs), and among the ready nodes an output node is picked
first, then a node feeding an output, then one two links away, else the first in line.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from .schema import is_link, is_output_node

SAMPLER_CLASSES = frozenset(
    {"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"}
)
MODEL_LOADER_INPUTS = {
    "CheckpointLoaderSimple": "ckpt_name",
    "CheckpointLoader": "ckpt_name",
    "ImageOnlyCheckpointLoader": "ckpt_name",
    "unCLIPCheckpointLoader": "ckpt_name",
    "UNETLoader": "unet_name",
}
Graph = dict[str, Any]


def links(node: dict[str, Any]) -> list[tuple[str, str, int]]:
    """(input name, source node id, source socket) for each linked input, in input order."""
    return [
        (name, value[0], value[1])
        for name, value in node.get("inputs", {}).items()
        if is_link(value)
    ]


def execution_order(graph: Graph, outputs: list[str], cached: set[str]) -> list[str]:
    pending: dict[str, None] = {}
    blocked_by: dict[str, int] = {}
    blocking: dict[str, dict[str, None]] = {}
    edges: list[tuple[str, str]] = []
    for output in outputs:
        stack = [output]
        while stack:
            node_id = stack.pop()
            if node_id in pending:
                continue
            pending[node_id] = None
            blocked_by.setdefault(node_id, 0)
            blocking.setdefault(node_id, {})
            for _, source, _ in links(graph[node_id]):
                if source not in cached:
                    stack.append(source)
                    edges.append((source, node_id))
    for source, target in edges:
        if source in pending and target not in blocking.setdefault(source, {}):
            blocking[source][target] = None
            blocked_by[target] += 1

    def is_output(node_id: str) -> bool:
        return is_output_node(graph[node_id]["class_type"])

    def pick(ready: list[str]) -> str:
        for node_id in ready:
            if is_output(node_id):
                return node_id
        for node_id in ready:
            if any(is_output(b) for b in blocking[node_id]):
                return node_id
        for node_id in ready:
            if any(is_output(b2) for b in blocking[node_id] for b2 in blocking.get(b, {})):
                return node_id
        return ready[0]

    order: list[str] = []
    while pending:
        ready = [n for n in pending if blocked_by[n] == 0]
        if not ready:
            raise ValueError("dependency cycle")
        chosen = pick(ready)
        order.append(chosen)
        del pending[chosen]
        for target in blocking[chosen]:
            blocked_by[target] -= 1
    return order


def is_changed(graph: Graph, node_id: str, root_dir: Path) -> Any:
    """What ComfyUI's IS_CHANGED would say: time for SaveImageWebsocket, file state for LoadImage."""
    node = graph[node_id]
    class_type = node["class_type"]
    if class_type == "SaveImageWebsocket":
        return time.monotonic_ns()
    if class_type in ("LoadImage", "LoadImageMask"):
        path = root_dir / "input" / str(node["inputs"].get("image", ""))
        try:
            return hashlib.sha256(path.read_bytes()).hexdigest()
        except OSError:
            return None
    return None


def signatures(graph: Graph, root_dir: Path) -> dict[str, str]:
    """A cache key per node: its class, inputs and, recursively, its ancestors' keys."""
    memo: dict[str, str] = {}

    def sign(node_id: str, seen: frozenset[str]) -> str:
        if node_id in memo:
            return memo[node_id]
        if node_id in seen or node_id not in graph:
            return "nan"
        node = graph[node_id]
        parts: list[Any] = [node["class_type"], repr(is_changed(graph, node_id, root_dir))]
        for name in sorted(node.get("inputs", {})):
            value = node["inputs"][name]
            if is_link(value):
                parts.append([name, sign(value[0], seen | {node_id}), value[1]])
            else:
                parts.append([name, json.dumps(value, sort_keys=True)])
        memo[node_id] = json.dumps(parts)
        return memo[node_id]

    return {node_id: sign(node_id, frozenset()) for node_id in graph}


def sampler_steps(graph: Graph, node_id: str) -> int:
    """How many progress steps a sampler node reports."""
    inputs = graph[node_id].get("inputs", {})
    steps = inputs.get("steps")
    if isinstance(steps, int):
        if graph[node_id]["class_type"] == "KSamplerAdvanced":
            start = int(inputs.get("start_at_step", 0))
            end = min(int(inputs.get("end_at_step", steps)), steps)
            return max(end - start, 1)
        return max(steps, 1)
    for _, source, _ in links(graph[node_id]):  # SamplerCustom*: steps live on the scheduler
        if source in graph and not is_link(graph[source].get("inputs", {}).get("steps")):
            found = graph[source].get("inputs", {}).get("steps")
            if isinstance(found, int):
                return max(found, 1)
            deeper = [s for _, s, _ in links(graph[source])]
            for s in deeper:
                found = graph.get(s, {}).get("inputs", {}).get("steps")
                if isinstance(found, int):
                    return max(found, 1)
    return 1


IMAGE_INPUT_PRIORITY = ("images", "image", "pixels", "samples", "latent_image", "latent", "source")


def image_shape(graph: Graph, node_id: str, root_dir: Path, depth: int = 0) -> tuple[int, int, int]:
    """(width, height, batch) of the images a node produces, read cheaply from the graph."""
    if depth > 50 or node_id not in graph:
        return (64, 64, 1)
    node = graph[node_id]
    inputs = node.get("inputs", {})
    if node["class_type"] in ("LoadImage", "LoadImageMask"):
        return _file_shape(root_dir / "input" / str(inputs.get("image", "")))
    width, height, batch = inputs.get("width"), inputs.get("height"), inputs.get("batch_size")
    upstream: tuple[int, int, int] | None = None
    linked = {name: source for name, source, _ in links(node)}
    for name in IMAGE_INPUT_PRIORITY:
        if name in linked:
            upstream = image_shape(graph, linked[name], root_dir, depth + 1)
            break
    if upstream is None and linked:
        upstream = image_shape(graph, next(iter(linked.values())), root_dir, depth + 1)
    w, h, b = upstream or (64, 64, 1)
    if isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0:
        w, h = width, height
    scale = inputs.get("scale_by")
    if isinstance(scale, (int, float)) and not is_link(scale):
        w, h = max(int(w * scale), 1), max(int(h * scale), 1)
    if isinstance(batch, int) and batch > 0:
        b = batch
    return (min(w, 2048), min(h, 2048), min(b, 16))


def _file_shape(path: Path) -> tuple[int, int, int]:
    from PIL import Image

    try:
        with Image.open(path) as image:
            return (image.width, image.height, 1)
    except OSError:
        return (64, 64, 1)
