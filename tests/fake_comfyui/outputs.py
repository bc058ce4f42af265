"""UI outputs of the fake's output nodes: real files in the root dir, reported like ComfyUI."""

from __future__ import annotations

import random
import re
import string
from pathlib import Path
from typing import Any

from . import graph as g
from .images import png_bytes, solid_color

ANIMATED = {"SaveAnimatedWEBP": ("WEBP", "webp"), "SaveAnimatedPNG": ("PNG", "png")}
VIDEO = {"SaveWEBM": "webm", "SaveVideo": "mp4"}


def image_color(graph: g.Graph, node_id: str, depth: int = 0) -> tuple[int, int, int]:
    """EmptyImage's colour when the images come from one, else a colour derived from the graph."""
    node = graph.get(node_id, {})
    inputs = node.get("inputs", {})
    if node.get("class_type") == "EmptyImage" and isinstance(inputs.get("color"), int):
        return solid_color(inputs["color"], 0)
    for _, source, _ in g.links(node):
        if depth < 50 and source in graph:
            return image_color(graph, source, depth + 1)
    seed = inputs.get("seed", inputs.get("noise_seed", len(graph)))
    return solid_color(None, seed if isinstance(seed, int) else 0)


def next_counter(folder: Path, name: str) -> int:
    """ComfyUI's get_save_image_path: one more than the highest `<name>_<counter>_` present."""
    pattern = re.compile(rf"^{re.escape(name)}_(\d+)_")
    counters = (
        [int(m.group(1)) for p in folder.iterdir() if (m := pattern.match(p.name))]
        if folder.is_dir()
        else []
    )
    return max(counters, default=0) + 1


def save_images(
    graph: g.Graph,
    node_id: str,
    root_dir: Path,
    folder_type: str,
    prefix: str,
    extension: str = "png",
    image_format: str = "PNG",
) -> list[dict[str, str]]:
    source = graph[node_id]["inputs"].get("images")
    source_id = source[0] if g.is_link(source) else node_id
    width, height, batch = (
        g.image_shape(graph, source_id, root_dir) if g.is_link(source) else (64, 64, 1)
    )
    subfolder, _, name = prefix.replace("\\", "/").rpartition("/")
    if ".." in subfolder.split("/") or subfolder.startswith("/"):
        subfolder = ""
    folder = root_dir / folder_type / subfolder
    folder.mkdir(parents=True, exist_ok=True)
    counter = next_counter(folder, name)
    rgb = image_color(graph, source_id)
    results = []
    data = png_bytes(width, height, rgb)
    if image_format != "PNG":
        data = _convert(data, image_format)
    for batch_number in range(batch):
        while True:  # several fakes may share one output dir: never overwrite another's file
            filename = f"{name.replace('%batch_num%', str(batch_number))}_{counter:05}_.{extension}"
            counter += 1
            try:
                with (folder / filename).open("xb") as f:
                    f.write(data)
                break
            except FileExistsError:
                continue
        results.append({"filename": filename, "subfolder": subfolder, "type": folder_type})
    return results


def _convert(png: bytes, image_format: str) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    with Image.open(io.BytesIO(png)) as image:
        image.save(out, format=image_format)
    return out.getvalue()


def node_ui(graph: g.Graph, node_id: str, root_dir: Path) -> dict[str, Any] | None:
    """The `output` ComfyUI reports in `executed` and history for this node, or None."""
    node = graph[node_id]
    class_type, inputs = node["class_type"], node.get("inputs", {})
    if class_type == "SaveImage":
        return {
            "images": save_images(
                graph, node_id, root_dir, "output", str(inputs.get("filename_prefix", "ComfyUI"))
            )
        }
    if class_type in ("PreviewImage", "MaskPreview"):
        suffix = "".join(random.choice(string.ascii_lowercase) for _ in range(5))
        return {"images": save_images(graph, node_id, root_dir, "temp", f"ComfyUI_temp_{suffix}")}
    if class_type in ANIMATED:
        image_format, extension = ANIMATED[class_type]
        images = save_images(
            graph,
            node_id,
            root_dir,
            "output",
            str(inputs.get("filename_prefix", "ComfyUI")),
            extension,
            image_format,
        )
        return {"images": images[:1], "animated": [True]}
    if class_type in VIDEO:
        prefix = str(inputs.get("filename_prefix", "video/ComfyUI"))
        subfolder, _, name = prefix.rpartition("/")
        folder = root_dir / "output" / subfolder
        folder.mkdir(parents=True, exist_ok=True)
        filename = f"{name}_{next_counter(folder, name):05}_.{VIDEO[class_type]}"
        (folder / filename).write_bytes(b"\x00\x00\x00\x18ftypisom fake video")
        return {
            "images": [{"filename": filename, "subfolder": subfolder, "type": "output"}],
            "animated": [True],
        }
    if class_type == "PreviewAny":
        return {"text": [_preview_text(graph, inputs.get("source"), root_dir)]}
    return None


def _preview_text(graph: g.Graph, source: Any, root_dir: Path) -> str:
    if not g.is_link(source) or source[0] not in graph:
        return str(source)
    upstream = graph[source[0]]
    if upstream["class_type"] == "GetImageSize":
        image = upstream["inputs"].get("image")
        shape = g.image_shape(graph, image[0], root_dir) if g.is_link(image) else (64, 64, 1)
        return str(shape[source[1]]) if 0 <= source[1] < 3 else ""
    value = upstream.get("inputs", {}).get("value")
    return "" if value is None else str(value)
