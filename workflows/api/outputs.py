"""Output files as HTTP answers, the same in the API and in the admin.

A node names its outputs, so a name says nothing of what a file holds, and the router serves it
in its own origin, where the admin's session lives. Only media a browser shows without running
anything are served inline, with the type of their extension; anything else (SVG, HTML, ...) is
an `application/octet-stream` attachment. Every answer forbids scripts and sniffing besides.
"""

from __future__ import annotations

from pathlib import Path, PurePath
from typing import Any

from django.http import FileResponse

INLINE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".avif": "image/avif",
    ".bmp": "image/bmp",
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".flac": "audio/flac",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".m4a": "audio/mp4",
}
ATTACHMENT_TYPE = "application/octet-stream"
OUTPUT_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
}


def inline_type(filename: str) -> str | None:
    """The type an output is shown inline with, or None when it must be downloaded."""
    return INLINE_TYPES.get(PurePath(filename).suffix.lower())


def is_inline_image(output: dict[str, Any]) -> bool:
    return (inline_type(output["filename"]) or "").startswith("image/")


def output_response(path: Path, output: dict[str, Any]) -> FileResponse:
    shown_as = inline_type(output["filename"])
    response = FileResponse(
        path.open("rb"),
        content_type=shown_as or ATTACHMENT_TYPE,
        as_attachment=shown_as is None,
        filename=output["filename"],
    )
    for header, value in OUTPUT_HEADERS.items():
        response[header] = value
    return response
