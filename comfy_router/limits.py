"""The request body bound (`COMFY_ROUTER__MAX_REQUEST_BYTES`): a body past it is a JSON 413.

Two layers enforce it. `comfy_router.server_patches` sits in Daphne's HTTP connections (`serve`
installs it, `serve --api-only` too): it refuses a declared Content-Length over the limit as soon
as the headers arrive, and a chunked body as soon as it grows past the limit, so an oversized
body is never spooled to disk. `RequestBodyLimitMiddleware` is the same rule inside Django, for
any other ASGI server (plain `daphne comfy_router.asgi:application`, which has read the whole
body by then); and comfy_router.errors turns Django's own `RequestDataTooBig` into the same 413.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse


def too_large_message(limit: int) -> str:
    return (
        f"The request body is larger than {limit} bytes "
        f"(COMFY_ROUTER__MAX_REQUEST_BYTES={limit})."
    )


def too_large_body(limit: int) -> dict[str, Any]:
    message = too_large_message(limit)
    return {"message": message, "detail": {"body": [message]}}


def too_large_response(limit: int) -> JsonResponse:
    return JsonResponse(too_large_body(limit), status=413)


class RequestBodyLimitMiddleware:
    """Answers 413 for a body over the limit, before any view reads it.

    Under ASGI a chunked body arrives without Content-Length; its buffered size is checked and
    then declared, so DRF (which reads exactly Content-Length bytes) sees the body at all.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        limit = settings.ROUTER.max_request_bytes
        declared = request.META.get("CONTENT_LENGTH")
        if declared:
            try:
                if int(declared) > limit:
                    return too_large_response(limit)
            except ValueError:
                pass
        else:
            size = _buffered_size(request)
            if size is not None and size > limit:
                return too_large_response(limit)
            if size:
                request.META["CONTENT_LENGTH"] = str(size)
        return self.get_response(request)


def _buffered_size(request: HttpRequest) -> int | None:
    stream = getattr(request, "_stream", None)
    if stream is None or not hasattr(stream, "seekable") or not stream.seekable():
        return None
    position = stream.tell()
    size = int(stream.seek(0, os.SEEK_END))
    stream.seek(position)
    return size
