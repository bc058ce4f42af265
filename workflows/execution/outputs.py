"""Stores what a prompt produced under DATA_DIR/outputs/<task id>/ and describes it for the API."""

from __future__ import annotations

import mimetypes
import os
import re
import uuid
from pathlib import Path
from typing import Any

from workflows.comfyui.client import ComfyUIClient, OutputFile, WebsocketImage
from workflows.tasks.files import outputs_dir

EXTENSION_BY_TYPE = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}


def safe_file_name(name: str) -> str:
    """A plain file name: no directories, no leading dots, only portable characters."""
    base = os.path.basename(name.replace("\\", "/"))
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip(".")
    return base[:120] or "output"


def _describe(index: int, filename: str, stored: Path, size: int) -> dict[str, Any]:
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    return {
        "index": index,
        "filename": filename,
        "stored_name": stored.name,
        "content_type": content_type,
        "size": size,
    }


def store_websocket_images(task_id: uuid.UUID, images: list[WebsocketImage]) -> list[dict[str, Any]]:
    folder = outputs_dir(task_id)
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for index, image in enumerate(images):
        filename = f"output_{index:03d}{EXTENSION_BY_TYPE.get(image.content_type, '.bin')}"
        path = folder / f"{index:03d}-{filename}"
        temp = path.with_name(path.name + ".part")
        temp.write_bytes(image.data)
        os.replace(temp, path)
        stored.append(_describe(index, filename, path, len(image.data)))
    return stored


async def fetch_saved_files(
    client: ComfyUIClient, task_id: uuid.UUID, files: list[OutputFile], first_index: int
) -> list[dict[str, Any]]:
    """Downloads files the graph saved on the node (images, gifs, videos, audio) through /view."""
    if not files:
        return []
    folder = outputs_dir(task_id)
    folder.mkdir(parents=True, exist_ok=True)
    stored = []
    for offset, output in enumerate(files):
        index = first_index + offset
        filename = safe_file_name(output.filename)
        path = folder / f"{index:03d}-{filename}"
        size = await client.download_view(output.filename, output.subfolder, output.type, path)
        stored.append(_describe(index, filename, path, size))
    return stored
