"""A real HTTP server on loopback for download tests, run in its own thread and event loop.

Routes (sizes in bytes; bodies are deterministic, see `body`):
  /files/<name>?size=N                  the file, with Content-Length
  /slow/<name>?size=N&chunk=C&delay=S   the file in chunks of C bytes, sleeping S between them
  /fail/<name>?size=N&after=M           claims N bytes, sends M, then drops the connection
  /lie/<name>?size=N&claim=M            claims M bytes, sends N, then closes
  /stall/<name>?size=N&after=M          sends M bytes, then stops talking (for timeouts)
  /flaky/<name>?size=N&failures=K       answers 503 K times, then the file
  /chunked/<name>?size=N                the file without Content-Length (chunked)
  /redirect?to=URL                      302 to URL (relative or absolute)
  /image?id=N                           a different small body per id (`image_body`)
  /missing                              404
Every request is counted per path in `hits`; `streaming` counts the bodies being sent right now
(a body ends when it is all sent or the client goes away).
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web

PATTERN = bytes(range(256)) * 4096  # 1 MiB


def body(size: int) -> bytes:
    """The bytes served for a file of `size` bytes."""
    repeats, rest = divmod(size, len(PATTERN))
    return PATTERN * repeats + PATTERN[:rest]


def image_body(image_id: str) -> bytes:
    """What /image?id=<image_id> serves."""
    return f"image {image_id}\n".encode() * 64


def _int(request: web.Request, name: str, default: int = 0) -> int:
    return int(request.query.get(name, default))


@dataclass
class FileServer:
    hits: Counter[str] = field(default_factory=Counter)
    streaming: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _runner: web.AppRunner | None = None
    _thread: threading.Thread | None = None
    _flaky: Counter[str] = field(default_factory=Counter)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> FileServer:
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self._start())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="file-server", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("file server did not start")
        return self

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._count])
        app.router.add_get("/files/{name}", self._file)
        app.router.add_get("/slow/{name}", self._slow)
        app.router.add_get("/fail/{name}", self._fail)
        app.router.add_get("/lie/{name}", self._lie)
        app.router.add_get("/stall/{name}", self._stall)
        app.router.add_get("/flaky/{name}", self._flakyfile)
        app.router.add_get("/chunked/{name}", self._chunked)
        app.router.add_get("/redirect", self._redirect)
        app.router.add_get("/image", self._image)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @web.middleware
    async def _count(self, request: web.Request, handler: web.Handler) -> web.StreamResponse:
        self.hits[request.path] += 1
        return await handler(request)

    async def _file(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=body(_int(request, "size")), content_type="application/octet-stream")

    async def _streamed(
        self, request: web.Request, data: bytes, length: int | None, chunk: int = 65536, delay: float = 0.0
    ) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        if length is not None:
            response.content_length = length
        else:
            response.enable_chunked_encoding()
        await response.prepare(request)
        self.streaming += 1
        try:
            for start in range(0, len(data), chunk):
                await response.write(data[start : start + chunk])
                if delay:
                    await asyncio.sleep(delay)
        finally:
            self.streaming -= 1
        return response

    async def _slow(self, request: web.Request) -> web.StreamResponse:
        size = _int(request, "size")
        response = await self._streamed(
            request,
            body(size),
            size,
            chunk=_int(request, "chunk", 65536),
            delay=float(request.query.get("delay", "0.05")),
        )
        await response.write_eof()
        return response

    async def _cut(self, request: web.Request, sent: bytes, claimed: int) -> web.StreamResponse:
        response = await self._streamed(request, sent, claimed)
        assert request.transport is not None
        request.transport.close()
        return response

    async def _fail(self, request: web.Request) -> web.StreamResponse:
        return await self._cut(request, body(_int(request, "after")), _int(request, "size"))

    async def _lie(self, request: web.Request) -> web.StreamResponse:
        return await self._cut(request, body(_int(request, "size")), _int(request, "claim"))

    async def _stall(self, request: web.Request) -> web.StreamResponse:
        await self._streamed(request, body(_int(request, "after")), _int(request, "size"))
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def _flakyfile(self, request: web.Request) -> web.StreamResponse:
        self._flaky[request.path] += 1
        if self._flaky[request.path] <= _int(request, "failures"):
            return web.Response(status=503, text="try later")
        return await self._file(request)

    async def _chunked(self, request: web.Request) -> web.StreamResponse:
        response = await self._streamed(request, body(_int(request, "size")), None)
        await response.write_eof()
        return response

    async def _image(self, request: web.Request) -> web.StreamResponse:
        return web.Response(body=image_body(request.query.get("id", "")), content_type="image/png")

    async def _redirect(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(request.query["to"])


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    server = FileServer().start()
    yield server
    server.stop()
