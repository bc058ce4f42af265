"""Walks the URL conf so tests cover every route, including ones added later."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

# Fixed values: the paths become test ids, which every pytest-xdist process must collect alike.
SAMPLE_BY_CONVERTER = {
    "uuid": "0b9e4c52-7f3a-4d1e-9a6b-2c8f5e0d1a37",
    "int": "0",
    "str": "x",
    "slug": "x",
    "path": "x",
}


@dataclass(frozen=True)
class Route:
    path: str
    callback: object

    @property
    def is_admin(self) -> bool:
        return self.path.startswith("/admin/")


def _concrete(route: str) -> str | None:
    def fill(match: re.Match[str]) -> str:
        return SAMPLE_BY_CONVERTER.get(match.group(1) or "str", "x")

    return re.sub(r"<(?:(\w+):)?\w+>", fill, route)


def walk_routes(resolver: URLResolver | None = None, prefix: str = "/") -> Iterator[Route]:
    """Yields one concrete path per route; regex routes (the admin's) are represented by their
    prefix only."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = entry.pattern
        if isinstance(pattern, RoutePattern):
            piece = _concrete(str(pattern))
        else:
            piece = None
        if isinstance(entry, URLResolver):
            if piece is None:
                continue
            yield from walk_routes(entry, prefix + piece)
        elif isinstance(entry, URLPattern) and piece is not None:
            yield Route(prefix + piece, entry.callback)
