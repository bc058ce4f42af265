"""Django's ASGI handler, made cheaper for a project whose middleware and views are all sync.

Django under ASGI builds its middleware chain async and crosses between the event loop and a
thread at every boundary between sync and async parts: three crossings per request with this
project's middleware (our own and WhiteNoise are sync, Django's are both). And each request
gets a new thread, hence a new database connection. Here:

- the chain is built sync, as under WSGI: a request goes to a thread once for all of it;
- that thread is one of a few long-lived ones (`REQUEST_THREADS`), each keeping its database
  connection from request to request. A request goes to the least busy; requests still run
  side by side, so one waiting on a node (the admin checking it) holds up no others.

Everything else (reading the body, streaming the response, signals) is Django's own.

`load_middleware` and `get_response_async` (BaseHandler) and `handle` (ASGIHandler) carry no
underscore but are not documented API: this was written against Django 5.2.19 and is listed in
README "Patches to dependencies". `ThreadSensitiveContext(executor=...)` is asgiref's documented
API since 3.13 (pinned at 3.13.0).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponseBase

REQUEST_THREADS = 8


class RequestThreads:
    """Single-thread executors handed to requests, the least busy first."""

    def __init__(self, count: int) -> None:
        self.executors = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"request-{n}")
            for n in range(count)
        ]
        self.in_use = [0] * count

    def pick(self) -> int:
        index = min(range(len(self.executors)), key=self.in_use.__getitem__)
        self.in_use[index] += 1
        return index

    def done(self, index: int) -> None:
        self.in_use[index] -= 1


class RouterASGIHandler(ASGIHandler):
    def __init__(self, threads: int = REQUEST_THREADS) -> None:
        self.threads = RequestThreads(threads)
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        return await sync_to_async(self.get_response, thread_sensitive=True)(request)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP only, not {scope['type']}.")
        index = self.threads.pick()
        try:
            async with ThreadSensitiveContext(executor=self.threads.executors[index]):
                await self.handle(scope, receive, send)
        finally:
            self.threads.done(index)


def get_http_application() -> RouterASGIHandler:
    """Like `django.core.asgi.get_asgi_application`, with the handler above."""
    django.setup(set_prefix=False)
    return RouterASGIHandler()
