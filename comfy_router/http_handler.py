"""Django's ASGI handler, made cheaper for a project whose middleware and views are all sync.

Django under ASGI builds its middleware chain async and crosses between the event loop and a
thread at every boundary between sync and async parts: three crossings per request with this
project's middleware (our own and WhiteNoise are sync, Django's are both). And each request
gets a new thread, hence a new database connection. Here:

- the chain is built sync, as under WSGI: a request goes to a thread once for all of it;
- that thread is one of a few long-lived ones (`REQUEST_THREADS`), each keeping its database
  connection from request to request. A request goes to the least busy; requests still run
  side by side, so one waiting on a node (the admin checking it) holds up no others;
- a streaming response is sent no faster than its client reads it. Django reads a sync
  iterator (a FileResponse's file) whole into a list before sending any of it, and Daphne
  writes whatever it is sent to Twisted's buffer at once: three clients that opened a 150 MiB
  output and read nothing took 900 MB. Here such an iterator is read some blocks at a time, on
  the request's thread, and each body message waits for the room the server makes once the client
  has taken the one before (`WriteRoom`; the Daphne request `serve` installs makes it, see
  comfy_router.server_patches; under another server messages go as Django sends them);
- a view that must wait for something (a client's long poll) answers `AskAgainAfter`: the
  handler awaits the wait on the event loop, holding no request thread, then passes the request
  through the middleware and the view again, which read `waited_for(request)`.

Everything else (reading the body, signals) is Django's own.

`load_middleware` and `get_response_async` (BaseHandler) and `handle` (ASGIHandler) carry no
underscore but are not documented API: this was written against Django 5.2.19 and is listed in
README "Patches to dependencies". `ThreadSensitiveContext(executor=...)` is asgiref's documented
API since 3.13 (pinned at 3.13.0).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import django
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse

REQUEST_THREADS = 8

# The key of a body message that carries a WriteRoom to the server.
WRITE_ROOM = "comfy_router.write_room"


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


class WriteRoom:
    """Goes to the server with one body message. A server that paces its writes calls `heard`
    as it takes the message, then `made` once its client has taken what was written (at once
    when nothing waits); a server that does not calls neither."""

    def __init__(self) -> None:
        self.was_heard = False
        self.room = asyncio.get_running_loop().create_future()

    def heard(self) -> None:
        self.was_heard = True

    def made(self) -> None:
        if not self.room.done():
            self.room.set_result(None)


class PacedSend:
    """An ASGI `send` that holds a response's body until the server has room for it."""

    def __init__(self, send: Callable[[dict[str, Any]], Awaitable[None]]) -> None:
        self.send = send
        self.server_paces = True

    async def __call__(self, message: dict[str, Any]) -> None:
        if not (
            self.server_paces
            and message["type"] == "http.response.body"
            and message.get("more_body", False)
        ):
            await self.send(message)
            return
        room = WriteRoom()
        await self.send({**message, WRITE_ROOM: room})
        if not room.was_heard:
            self.server_paces = False
            return
        await room.room


# What one hop to the request's thread reads of a streaming response: its blocks are often
# small (a FileResponse reads 4 KiB at a time).
READ_BYTES = 256 * 1024


def read_some(blocks: Iterator[bytes]) -> bytes:
    """The iterator's next blocks, joined, up to READ_BYTES or its end; b"" once it has ended."""
    read = bytearray()
    for block in blocks:
        read += block
        if len(read) >= READ_BYTES:
            break
    return bytes(read)


async def read_in_request_thread(blocks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """A sync iterator's blocks, read some at a time on the request's thread (Django would read
    them all before sending any)."""
    read = sync_to_async(read_some, thread_sensitive=True)
    while read_so_far := await read(blocks):
        yield read_so_far


# The request attribute that carries an AskAgainAfter's state to the second pass.
WAITED = "comfy_router_waited"


class AskAgainAfter(HttpResponse):
    """A view's answer that it will answer once `wait()` returns: the handler awaits it on the
    event loop, then asks the view again with `waited_for(request)` giving `state`. (Under a
    handler other than RouterASGIHandler, a test client's, this empty 202 is the answer.)"""

    def __init__(self, wait: Callable[[], Awaitable[None]], state: object) -> None:
        super().__init__(status=202)
        self.wait = wait
        self.state = state


def waited_for(request: Any) -> object | None:
    """The state of the AskAgainAfter the view answered this request with, on its second pass;
    None on the first."""
    return getattr(request, WAITED, None)


class RouterASGIHandler(ASGIHandler):
    def __init__(self, threads: int = REQUEST_THREADS) -> None:
        self.threads = RequestThreads(threads)
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        if isinstance(response, AskAgainAfter):
            await response.wait()
            setattr(request, WAITED, response.state)
            response = await sync_to_async(self.get_response, thread_sensitive=True)(request)
        if isinstance(response, StreamingHttpResponse) and not response.is_async:
            response.streaming_content = read_in_request_thread(iter(response.streaming_content))
        return response

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django serves HTTP only, not {scope['type']}.")
        index = self.threads.pick()
        try:
            async with ThreadSensitiveContext(executor=self.threads.executors[index]):
                await self.handle(scope, receive, PacedSend(send))
        finally:
            self.threads.done(index)


def get_http_application() -> RouterASGIHandler:
    """Like `django.core.asgi.get_asgi_application`, with the handler above."""
    django.setup(set_prefix=False)
    return RouterASGIHandler()
