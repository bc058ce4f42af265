"""Stable names for cached files: every router on a shared disk derives the same name from a URL."""

from __future__ import annotations

import hashlib
import mimetypes
import posixpath
import re
from urllib.parse import urlsplit, urlunsplit

_SAFE_EXTENSION = re.compile(r"^\.[a-z0-9]{1,16}$")


def cache_key(url: str) -> str:
    """The URL without its query string and fragment: signed URLs of one file share an entry."""
    parts = urlsplit(url.strip())
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))


def cache_file_name(url: str) -> str:
    """`<sha256 of the key, 32 hex digits><extension of the URL path>`, e.g. `3f…9a.safetensors`."""
    key = cache_key(url)
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    extension = posixpath.splitext(urlsplit(key).path)[1].lower()
    if not _SAFE_EXTENSION.match(extension):
        extension = ""
    return digest + extension


# ComfyUI lists only the files it can load: in models/ folders those with a model extension, in
# input/ images and videos. A URL without such an extension (civitai's
# `/api/download/models/123`, `…/image?id=7`) is linked under its cache name plus the usual one.
MODEL_EXTENSIONS = frozenset(
    {".safetensors", ".sft", ".ckpt", ".pt", ".pt2", ".pth", ".bin", ".pkl", ".gguf"}
)
CONFIG_EXTENSIONS = frozenset({".yaml", ".yml", ".json"})


def link_name(url: str, folder: str) -> str:
    """The name a cached URL gets in `ROOT_DIR/<folder>/`, the one the graph refers to."""
    name = cache_file_name(url)
    extension = posixpath.splitext(name)[1]
    if folder == "input":
        kind = mimetypes.guess_type(name)[0] or ""
        return name if kind.startswith(("image/", "video/")) else name + ".png"
    if folder == "models/configs":
        return name if extension in CONFIG_EXTENSIONS else name + ".yaml"
    if folder.startswith("models/"):
        return name if extension in MODEL_EXTENSIONS else name + ".safetensors"
    return name
