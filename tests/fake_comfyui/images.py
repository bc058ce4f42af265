"""Small real images for the fake: PNG outputs, JPEG sampler previews and binary frames."""

from __future__ import annotations

import io
import json
import struct
from typing import Any

from PIL import Image

# Binary websocket event types (ComfyUI's BinaryEventTypes) and image formats.
PREVIEW_IMAGE = 1
TEXT = 3
PREVIEW_IMAGE_WITH_METADATA = 4
FORMAT_JPEG = 1
FORMAT_PNG = 2


def solid_color(color: int | None, seed: int) -> tuple[int, int, int]:
    if color is None:
        color = (seed * 2654435761) & 0xFFFFFF
    return ((color >> 16) & 0xFF, (color >> 8) & 0xFF, color & 0xFF)


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (max(width, 1), max(height, 1)), rgb).save(
        buffer, format="PNG", compress_level=1
    )
    return buffer.getvalue()


def jpeg_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (max(width, 1), max(height, 1)), rgb).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def preview_frame(image_format: int, image: bytes) -> bytes:
    """Event 1: big-endian event type, image format, then the image."""
    return struct.pack(">II", PREVIEW_IMAGE, image_format) + image


def preview_with_metadata_frame(metadata: dict[str, Any], image: bytes) -> bytes:
    """Event 4: event type, length of the metadata JSON, the JSON, then the image."""
    encoded = json.dumps(metadata).encode("utf-8")
    return struct.pack(">II", PREVIEW_IMAGE_WITH_METADATA, len(encoded)) + encoded + image


def text_frame(node_id: str, text: str) -> bytes:
    """Event 3: event type, length of the node id, the node id, then UTF-8 text."""
    node = node_id.encode("utf-8")
    return struct.pack(">II", TEXT, len(node)) + node + text.encode("utf-8")
