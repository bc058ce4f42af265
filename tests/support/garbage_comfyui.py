"""A fake ComfyUI that misbehaves on purpose, for the router's robustness tests.

It is the protocol-faithful fake (tests/fake_comfyui) with a few garbage knobs on top:
`prompt_answer` (raw bytes POST /prompt answers with, status 200), `history_answer` (any JSON
GET /history/{id} answers with), `junk_frames` (binary and text junk before every websocket
message), `mangle_executed` (the `executed` message's output becomes a string), and bodies of
a given size: `history_bytes` (a JSON answer to GET /history/{id}), `view_bytes` (GET /view),
`frame_bytes` (a binary websocket frame before every message).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fake_comfyui import FakeComfyUI

UNSET = object()

JUNK_BINARY = [
    b"",
    b"\x01",
    b"\x00\x00\x00\x03\xff\xff\xff\xffnode-id-longer-than-said",
    b"\x00\x00\x00\x04\x00\x00\x00\x05{not json at all",
    b"\x00\x00\x00\x04\x7f\xff\xff\xff",
    b"\x00\x00\x00\x09\x00\x00\x00\x00" + bytes(range(256)) * 4,
    b"\xde\xad\xbe\xef" * 300,
]
JUNK_TEXT = [
    "not json",
    "[1, 2, 3]",
    '{"type": 5, "data": null}',
    '{"type": "progress", "data": {"value": "x", "max": null}}',
    '{"type": "executing", "data": "a string"}',
    '{"type": "progress_state", "data": {"nodes": {"1": "running"}}}',
    '{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": "many"}}}}',
    '{"type": "execution_cached", "data": {"nodes": 7}}',
    "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
]


class GarbageComfyUI(FakeComfyUI):
    def __init__(self, root_dir: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(root_dir, **kwargs)
        self.prompt_answer: bytes | None = None
        self.history_answer: Any = UNSET
        self.junk_frames = False
        self.mangle_executed = False
        self.history_bytes: int | None = None
        self.view_bytes: int | None = None
        self.frame_bytes: int | None = None

    async def post_prompt(self, request: web.Request) -> web.Response:
        if self.prompt_answer is not None:
            await request.read()
            return web.Response(body=self.prompt_answer, content_type="application/json")
        return await super().post_prompt(request)

    async def get_history_item(self, request: web.Request) -> web.Response:
        if self.history_bytes is not None:
            padding = "a" * (self.history_bytes - len('{"x": ""}'))
            return web.Response(body=f'{{"x": "{padding}"}}'.encode(), content_type="application/json")
        if self.history_answer is not UNSET:
            return web.json_response(self.history_answer)
        return await super().get_history_item(request)

    async def view(self, request: web.Request) -> web.StreamResponse:
        if self.view_bytes is None:
            return await super().view(request)
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        await response.prepare(request)
        left = self.view_bytes
        while left > 0:
            chunk = min(left, 65536)
            await response.write(b"\x89" * chunk)
            left -= chunk
        await response.write_eof()
        return response

    async def send_json(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        if self.frame_bytes is not None:
            await self.send_frame(b"\x00\x00\x00\x09" + b"\x00" * (self.frame_bytes - 4), sid)
        if self.junk_frames:
            for frame in JUNK_BINARY:
                await self.send_frame(frame, sid)
            for text in JUNK_TEXT:
                assert self._outbox is not None
                self._outbox.put_nowait((text, sid))
        if self.mangle_executed and event == "executed":
            data = {**data, "output": "garbage"}
        await super().send_json(event, data, sid)


class GarbageNode:
    """A GarbageComfyUI on its own event loop in a thread: `GarbageNode(root, junk_frames=True)`."""

    def __init__(self, root_dir: Path, **garbage: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True, name="garbage")
        self.server = GarbageComfyUI(root_dir)
        for name, value in garbage.items():
            if not hasattr(self.server, name):
                raise AttributeError(f"{name} is not a knob of the garbage ComfyUI")
            setattr(self.server, name, value)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(10)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()
