"""What the public preview answers carry besides their body: an ETag that changes with what they
show, `Cache-Control: no-cache` (a cache may keep an answer but must ask again each time, since
the preview changes while the task runs; an unchanged one is a 304 with no body) and CORS `*`."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseBase, HttpResponseNotModified
from django.utils.http import parse_etags, quote_etag

CACHE_CONTROL = "no-cache"


def etag(version: str) -> str:
    return quote_etag(version)


def client_has(request: HttpRequest, tag: str) -> bool:
    """Whether the request's If-None-Match names `tag` (compared weakly, as RFC 9110 says)."""
    held = parse_etags(request.headers.get("If-None-Match", ""))
    return "*" in held or tag in held or f"W/{tag}" in held


def not_modified(tag: str) -> HttpResponseBase:
    return with_preview_headers(HttpResponseNotModified(), tag)


def with_preview_headers(response: HttpResponseBase, tag: str) -> HttpResponseBase:
    response["ETag"] = tag
    response["Cache-Control"] = CACHE_CONTROL
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Expose-Headers"] = "ETag"
    return response
