"""Stable names for cached files: every router on a shared disk derives the same name from a URL."""

from __future__ import annotations

import hashlib
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
