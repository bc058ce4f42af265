"""Which strings of a submission are URLs for the router to fetch, and whether it may."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from nodes.node_url import normalize_host
from workflows.graphs import limits


def url_error(value: Any) -> str | None:
    """Why `value` is not a URL the router may fetch (http or https, at most MAX_URL_LENGTH), or None."""
    if not isinstance(value, str) or not value:
        return "Enter a URL."
    if len(value) > limits.MAX_URL_LENGTH:
        return f"Ensure this URL has at most {limits.MAX_URL_LENGTH} characters."
    if any(ch.isspace() or ord(ch) < 32 for ch in value):
        return "A URL cannot contain whitespace or control characters."
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "Enter a valid URL."
    if parts.scheme.lower() not in limits.URL_SCHEMES:
        return "Only http and https URLs can be fetched."
    try:
        normalize_host(parts.hostname or "")
    except ValueError:  # no host, or one httpx or the resolver would refuse
        return "Enter a valid URL."
    return None


def looks_like_url(value: str) -> bool:
    return "://" in value[:16]
