"""Stores what a prompt produced under DATA_DIR/outputs/<task id>/ and describes it for the API."""

from __future__ import annotations

import mimetypes
import os
import re
import secrets
import uuid
from pathlib import Path
from typing import Any

from comfy_router.sizes import format_size
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


MAX_OUTPUT_FILES = 1000  # outputs one task may store (websocket images and saved files)


class TooMuchOutput(Exception):
    """A task's outputs went past MAX_OUTPUT_FILES or TASK__MAX_OUTPUT_BYTES."""


class OutputBudget:
    """What one task may still store: MAX_OUTPUT_FILES files, `max_bytes` bytes in all."""

    def __init__(self, max_bytes: int, max_files: int = MAX_OUTPUT_FILES) -> None:
        self.max_bytes, self.max_files = max_bytes, max_files
        self.files = self.bytes = 0

    def add(self, size: int) -> None:
        """Counts one more output of `size` bytes; raises TooMuchOutput past either bound."""
        self.files += 1
        self.bytes += size
        if self.files > self.max_files:
            raise TooMuchOutput(f"more than {self.max_files} outputs")
        if self.bytes > self.max_bytes:
            raise TooMuchOutput(f"outputs over {format_size(self.max_bytes)}")


def store_websocket_image(task_id: uuid.UUID, index: int, image: WebsocketImage) -> dict[str, Any]:
    """Writes one image a node sent over its websocket (whole or not at all) as it comes."""
    folder = outputs_dir(task_id)
    folder.mkdir(parents=True, exist_ok=True)
    filename = f"output_{index:03d}{EXTENSION_BY_TYPE.get(image.content_type, '.bin')}"
    path = folder / f"{index:03d}-{filename}"
    # Its own partial file: a run that lost its lease may still be writing beside the new one.
    temp = path.with_name(f"{path.name}.{secrets.token_hex(4)}.part")
    try:
        temp.write_bytes(image.data)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    return _describe(index, filename, path, len(image.data))


async def fetch_saved_files(
    client: ComfyUIClient,
    task_id: uuid.UUID,
    files: list[OutputFile],
    first_index: int,
    budget: OutputBudget,
) -> list[dict[str, Any]]:
    """Downloads files the graph saved on the node (images, gifs, videos, audio) through /view,
    within what the task may still store."""
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
        budget.add(size)
    return stored
