"""`GET /workflow/{id}/events`: a task's events as Server-Sent Events, for clients that cannot
speak websockets. Each event is one `data:` line carrying the JSON the task websocket sends; the
stream ends after the final (`finished`) one. While no event comes, a comment line every
KEEP_ALIVE_SECONDS keeps proxies from closing the stream as idle (nginx's default is 60 s).

The body is an async iterator, which Django's ASGI handler reads on the event loop: an open stream
holds no request thread."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from django.http import HttpResponse, HttpResponseBase, StreamingHttpResponse
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request

from workflows.api.task_events import task_events

CONTENT_TYPE = "text/event-stream"
# Proxies must pass each event on as it comes (nginx buffers unless told).
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
KEEP_ALIVE_SECONDS = 15.0
KEEP_ALIVE = b": keep-alive\n\n"

# One event, as OpenAPI 3.0 describes a stream's events (its fields as an EventSource reads them).
EVENT_SCHEMA = {
    "type": "object",
    "properties": {
        "data": {
            "type": "string",
            "description": (
                'JSON: `{"type": "status", "status", "node", "progress"}`, '
                '`{"type": "progress", "progress"}`, `{"type": "preview", '
                '"preview": <data URL>}`, or the final `{"type": "finished", "status", '
                '"task": <the task as GET /workflow/{id} shows it>}`'
            ),
        }
    },
    "required": ["data"],
}


def event_frame(event: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


async def event_frames(task_id: uuid.UUID) -> AsyncIterator[bytes]:
    events = task_events(task_id)
    upcoming: asyncio.Future[dict[str, Any]] | None = None
    try:
        while True:
            if upcoming is None:
                upcoming = asyncio.ensure_future(anext(events))
            done, _ = await asyncio.wait({upcoming}, timeout=KEEP_ALIVE_SECONDS)
            if not done:
                yield KEEP_ALIVE
                continue
            try:
                event = upcoming.result()
            except StopAsyncIteration:
                return
            upcoming = None
            yield event_frame(event)
    finally:
        if upcoming is not None and not upcoming.done():
            upcoming.cancel()
            with contextlib.suppress(BaseException):
                await upcoming
        await events.aclose()


def event_stream_response(request: Request, task_id: uuid.UUID) -> HttpResponseBase:
    """The stream; a HEAD gets its headers only (the stream may last as long as the task)."""
    response: HttpResponseBase
    if request.method == "HEAD":
        response = HttpResponse(content_type=CONTENT_TYPE)
    else:
        response = StreamingHttpResponse(event_frames(task_id), content_type=CONTENT_TYPE)
    for header, value in STREAM_HEADERS.items():
        response[header] = value
    return response


class ErrorsAsJson(BaseContentNegotiation):
    """The events route's errors (401, 404) are JSON whatever the client accepts (EventSource
    accepts `text/event-stream` only, which DRF would answer with a 406), as everywhere in the API:
    the first renderer, the JSON one, renders them; the stream itself is the view's own response."""

    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        return renderers[0], renderers[0].media_type

    def select_parser(self, request: Request, parsers: list[Any]) -> Any:
        return parsers[0] if parsers else None
