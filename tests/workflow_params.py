"""Small valid request bodies and images for the workflow builder and validation tests."""

from __future__ import annotations

import base64
import io
from typing import Any

from PIL import Image


def png_base64(width: int = 8, height: int = 8, color: tuple[int, int, int] = (255, 255, 255)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def build_in(name: str) -> dict[str, str]:
    return {"type": "build_in", "name": name}


def custom(url: str) -> dict[str, str]:
    return {"type": "custom", "name": url}


def image_url(url: str) -> dict[str, str]:
    return {"type": "url", "content": url}


def sd15_params(**overrides: Any) -> dict[str, Any]:
    return {"checkpoint": build_in("sd15_random.safetensors"), "prompt": "a photo of a cat", **overrides}


def sdxl_params(**overrides: Any) -> dict[str, Any]:
    return {"checkpoint": build_in("sdxl_random.safetensors"), "prompt": "a photo of a cat", **overrides}


def flux_params(**overrides: Any) -> dict[str, Any]:
    return {
        "unet": build_in("flux1-dev.safetensors"),
        "vae": build_in("ae.safetensors"),
        "t5xxl": build_in("t5xxl_fp8_e4m3fn.safetensors"),
        "clip": build_in("clip_l.safetensors"),
        "prompt": "a photo of a cat",
        **overrides,
    }


def lora(name: str = "style.safetensors", weight: float = 0.8) -> dict[str, Any]:
    return {"model": build_in(name), "weight": weight}


def controlnet(**overrides: Any) -> dict[str, Any]:
    return {
        "model": build_in("control_canny.safetensors"),
        "image": image_url("https://example.com/hint.png"),
        **overrides,
    }


def body(workflow_type: str, params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": workflow_type, "params": params, **extra}


def nodes_of(graph: dict[str, Any], class_type: str) -> list[tuple[str, dict[str, Any]]]:
    return [(node_id, node["inputs"]) for node_id, node in graph.items() if node["class_type"] == class_type]


def only(graph: dict[str, Any], class_type: str) -> tuple[str, dict[str, Any]]:
    found = nodes_of(graph, class_type)
    assert len(found) == 1, f"expected one {class_type}, found {len(found)}"
    return found[0]
