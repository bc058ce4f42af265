"""Images and multipart uploads as a ComfyUI script sends them (httpx `files=`), for the tests of
the router's ComfyUI file routes."""

from __future__ import annotations

import io
from typing import Any

import httpx
from PIL import Image
from PIL.PngImagePlugin import PngInfo


def png(width: int = 8, height: int = 8, color: Any = (200, 30, 30), mode: str = "RGB",
        text: dict[str, str] | None = None) -> bytes:
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def upload(client: httpx.Client, data: bytes, name: str = "uploaded.png",
           route: str = "/upload/image", **fields: str) -> httpx.Response:
    return client.post(route, files={"image": (name, data, "image/png")}, data=fields)
