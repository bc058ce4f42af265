"""A fake ComfyUI v0.8.0: a real aiohttp server speaking ComfyUI's HTTP + websocket protocol.

Knobs are plain attributes, read at the moment they matter, so a test may change them while
a prompt runs. Every route also exists under `/api/`.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from . import schema
from .executor import Executor, QueueItem, now_ms
from .log import FakeLog, PromptRecord, RequestRecord, WebsocketRecord
from .static_routes import SERVER_FEATURES, StaticRoutes, internal_error, json_body

ROOT_SUBDIRS = (
    "input",
    "output",
    "temp",
    *(d for dirs in schema.MODEL_DIRS.values() for d in dirs),
)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class FakeComfyUI(StaticRoutes):
    def __init__(
        self,
        root_dir: str | Path | None = None,
        *,
        port: int = 0,
        log: FakeLog | None = None,
        ssl_context: ssl.SSLContext | None = None,  # serves https with it
    ) -> None:
        self.root_dir = (
            Path(root_dir) if root_dir else Path(tempfile.mkdtemp(prefix="fake-comfyui-"))
        )
        for sub in ROOT_SUBDIRS:
            (self.root_dir / sub).mkdir(parents=True, exist_ok=True)
        self.port = port
        self.ssl_context = ssl_context
        self.log = log or FakeLog()
        # Parsed before serving: fakes started together would otherwise each parse it on their
        # first prompt (the cache fills once a parse ends), taking turns on one GIL.
        schema.object_info()
        # Knobs.
        self.step_delay = 0.0  # seconds per sampler step
        self.node_delay = 0.0  # seconds per executed node
        self.previews: bool | None = None  # None: as the prompt's extra_data.preview_method says
        self.fail_at_node: str | None = None  # node id or class_type -> execution_error there
        self.fail_message: str | None = None
        self.fail_exception_type = "RuntimeError"
        self.reject_prompt: bool | dict[str, Any] = False  # True or a verbatim 400 body
        self.drop_websocket_after: int | None = None  # close all sockets after N more messages
        self.hang = False  # accept connections, never answer
        self.load_time = 0.0  # seconds charged when the loaded checkpoint/unet changes
        self.system_stats_status: int | None = None
        self.required_token: str | None = None  # not ComfyUI: require this bearer/?token=
        # A node without these node classes (a custom node pack it lacks): gone from
        # /object_info, and a prompt using one is refused as ComfyUI refuses an unknown class.
        self.missing_classes: frozenset[str] = frozenset()
        self.view_rate: float | None = None  # not ComfyUI: /view sends this many bytes a second
        self.number = 0
        self.executor: Executor | None = None
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._outbox: asyncio.Queue[tuple[str | bytes, str | None]] | None = None
        self._sockets: dict[str, tuple[web.WebSocketResponse, web.Request]] = {}
        self._flags: dict[str, dict[str, Any]] = {}
        self._sent = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.ssl_context else 'http'}://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        self.executor = Executor(self)
        self._outbox = asyncio.Queue()
        app = web.Application(middlewares=[self._middleware], client_max_size=200 * 1024 * 1024)
        app.add_routes(self._routes("") + self._routes("/api"))
        self._runner = web.AppRunner(
            app, shutdown_timeout=0.2, handler_cancellation=True, access_log=None
        )
        await self._runner.setup()
        site = web.TCPSite(
            self._runner, "127.0.0.1", self.port, reuse_address=True, ssl_context=self.ssl_context
        )
        await site.start()
        if self.port == 0:  # the port the kernel chose, through aiohttp's public addresses
            self.port = self._runner.addresses[0][1]
        self._tasks = [
            asyncio.create_task(self.executor.run()),
            asyncio.create_task(self._publish()),
        ]

    async def stop(self) -> None:
        """Die: stop listening, drop every connection, lose the queue (history goes too)."""
        running = self.executor.queue.running if self.executor is not None else None
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._drop_sockets()
        if self.executor is not None:
            for item in ([running] if running else []) + self.executor.queue.clear():
                self.log.prompt_left(item.record, "lost", time.monotonic())
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    die = stop

    # -- outgoing messages -----------------------------------------------------------------

    async def send_json(self, event: str, data: dict[str, Any], sid: str | None) -> None:
        assert self._outbox is not None
        self._outbox.put_nowait((json.dumps({"type": event, "data": data}), sid))

    async def send_frame(self, frame: bytes, sid: str | None) -> None:
        assert self._outbox is not None
        self._outbox.put_nowait((frame, sid))

    async def broadcast_status(self) -> None:
        await self.send_json("status", {"status": self._queue_info()}, None)

    def supports_preview_metadata(self, sid: str | None) -> bool:
        return sid is not None and bool(self._flags.get(sid, {}).get("supports_preview_metadata"))

    async def _publish(self) -> None:
        assert self._outbox is not None
        while True:
            message, sid = await self._outbox.get()
            targets = (
                list(self._sockets.values())
                if sid is None
                else ([self._sockets[sid]] if sid in self._sockets else [])
            )
            for ws, _ in targets:
                try:
                    if isinstance(message, bytes):
                        await ws.send_bytes(message)
                    else:
                        await ws.send_str(message)
                except (ConnectionError, RuntimeError):
                    pass
            if self.drop_websocket_after is not None and targets:
                self._sent += 1
                if self._sent >= self.drop_websocket_after:
                    self.drop_websocket_after, self._sent = None, 0
                    self._drop_sockets()

    def _drop_sockets(self) -> None:
        for ws, request in list(self._sockets.values()):
            if request.transport is not None:
                request.transport.abort()
        self._sockets.clear()

    def _queue_info(self) -> dict[str, Any]:
        assert self.executor is not None
        return {"exec_info": {"queue_remaining": self.executor.queue.remaining}}

    # -- middleware and routes -------------------------------------------------------------

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        record = RequestRecord(
            request.method,
            request.path,
            request.query_string,
            request.headers.get("Authorization"),
            request.headers.get("Origin"),
        )
        self.log.request(record)
        if self.hang:
            await asyncio.Event().wait()
        host, origin = request.headers.get("Host"), request.headers.get("Origin")
        if host and origin:
            parsed, host_parsed = urlsplit(origin), urlsplit("//" + host.lower())
            host_domain = host.lower() if parsed.port is not None else host_parsed.hostname
            origin_domain = (
                parsed.netloc.lower() if host_parsed.port is not None else parsed.hostname
            )
            if host_domain and origin_domain and host_domain != origin_domain:
                record.status = 403
                return web.Response(status=403)
        if self.required_token is not None:
            bearer = request.headers.get("Authorization", "")
            if (
                bearer != f"Bearer {self.required_token}"
                and request.query.get("token") != self.required_token
            ):
                record.status = 401
                return web.Response(status=401, text="Unauthorized")
        response = await handler(request)
        record.status = response.status
        return response

    def _routes(self, prefix: str) -> list[web.RouteDef]:
        return [
            web.get(prefix + "/ws", self.websocket),
            web.post(prefix + "/prompt", self.post_prompt),
            web.get(prefix + "/prompt", self.get_prompt),
            web.get(prefix + "/queue", self.get_queue),
            web.post(prefix + "/queue", self.post_queue),
            web.post(prefix + "/interrupt", self.post_interrupt),
            web.get(prefix + "/history", self.get_history),
            web.get(prefix + "/history/{prompt_id}", self.get_history_item),
            web.post(prefix + "/history", self.post_history),
            web.post(prefix + "/free", self.free),
            *self._static_routes(prefix),
        ]

    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        assert self.executor is not None
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.query.get("clientId", "") or uuid.uuid4().hex
        self._sockets.pop(sid, None)
        self._sockets[sid] = (ws, request)
        self._flags[sid] = {}
        record = WebsocketRecord(sid, request.query.get("token"), time.monotonic())
        self.log.websocket(record)
        try:
            await self.send_json("status", {"status": self._queue_info(), "sid": sid}, sid)
            if self.executor.client_id == sid and self.executor.last_node_id is not None:
                await self.send_json("executing", {"node": self.executor.last_node_id}, sid)
            first = True
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(message.data)
                except ValueError:
                    data = None
                if first and isinstance(data, dict) and data.get("type") == "feature_flags":
                    self._flags[sid] = dict(data.get("data") or {})
                    await self.send_json("feature_flags", SERVER_FEATURES, sid)
                first = False
        finally:
            # Like ComfyUI, even when a newer socket took this clientId over.
            self._sockets.pop(sid, None)
            self._flags.pop(sid, None)
            record.closed = time.monotonic()
        return ws

    async def post_prompt(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        try:
            body = json.loads(await request.text())
            if not isinstance(body, dict):
                raise ValueError("body is not an object")
        except ValueError:
            return internal_error()
        if isinstance(body.get("number"), (int, float)):
            number = body["number"]
        else:
            number = -self.number if body.get("front") else self.number
            self.number += 1
        if "prompt" not in body:
            return web.json_response(
                {
                    "error": {
                        "type": "no_prompt",
                        "message": "No prompt provided",
                        "details": "No prompt provided",
                        "extra_info": {},
                    },
                    "node_errors": {},
                },
                status=400,
            )
        graph = body["prompt"]
        try:
            validation = schema.validate_prompt(graph, self.root_dir, self.missing_classes)
        except schema.BadPromptBody:
            return internal_error()
        extra_data = body.get("extra_data", {})
        if not isinstance(extra_data, dict):
            return internal_error()
        if "client_id" in body:
            extra_data["client_id"] = body["client_id"]
        if validation.ok and self.reject_prompt:
            return web.json_response(self._rejection(graph, validation.outputs), status=400)
        if not validation.ok:
            return web.json_response(
                {"error": validation.error, "node_errors": validation.node_errors}, status=400
            )
        prompt_id = str(body.get("prompt_id", uuid.uuid4()))
        extra_data["create_time"] = now_ms()
        record = PromptRecord(
            prompt_id, extra_data.get("client_id"), graph, extra_data, number, time.monotonic()
        )
        self.log.prompt_accepted(record)
        self.executor.queue.put(
            QueueItem(number, prompt_id, graph, extra_data, validation.outputs, record)
        )
        await self.broadcast_status()
        return web.json_response(
            {"prompt_id": prompt_id, "number": number, "node_errors": validation.node_errors}
        )

    def _rejection(self, graph: dict[str, Any], outputs: list[str]) -> dict[str, Any]:
        if isinstance(self.reject_prompt, dict):
            return self.reject_prompt
        node_id = next(iter(graph))
        node = graph[node_id]
        name = next(iter(node.get("inputs", {})), "input")
        value = node.get("inputs", {}).get(name)
        return {
            "error": {
                "type": "prompt_outputs_failed_validation",
                "message": "Prompt outputs failed validation",
                "details": "",
                "extra_info": {},
            },
            "node_errors": {
                node_id: {
                    "errors": [
                        {
                            "type": "value_not_in_list",
                            "message": "Value not in list",
                            "details": f"{name}: '{value}' not in []",
                            "extra_info": {
                                "input_name": name,
                                "input_config": None,
                                "received_value": value,
                            },
                        }
                    ],
                    "dependent_outputs": outputs,
                    "class_type": node["class_type"],
                }
            },
        }

    async def get_prompt(self, request: web.Request) -> web.Response:
        return web.json_response(self._queue_info())

    async def get_queue(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        queue = self.executor.queue
        return web.json_response(
            {
                "queue_running": [queue.running.as_list()] if queue.running else [],
                "queue_pending": [item.as_list() for item in queue.pending],
            }
        )

    async def post_queue(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        body = await json_body(request)
        removed: list[QueueItem] = []
        if body.get("clear"):
            removed += self.executor.queue.clear()
        if isinstance(body.get("delete"), list):
            removed += self.executor.queue.delete({str(i) for i in body["delete"]})
        for item in removed:
            self.log.prompt_left(item.record, "deleted", time.monotonic())
        if removed or body.get("clear"):
            await self.broadcast_status()
        return web.Response(status=200)

    async def post_interrupt(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        body = await json_body(request)
        self.executor.interrupt(str(body["prompt_id"]) if body.get("prompt_id") else None)
        return web.Response(status=200)

    async def get_history(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        items = list(self.executor.history.items())
        if request.query.get("max_items", "").isdigit():
            items = items[-int(request.query["max_items"]) :]
        return web.json_response(dict(items))

    async def get_history_item(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        prompt_id = request.match_info["prompt_id"]
        entry = self.executor.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry is not None else {})

    async def post_history(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        body = await json_body(request)
        if body.get("clear"):
            self.executor.history.clear()
        for prompt_id in body.get("delete", []) if isinstance(body.get("delete"), list) else []:
            self.executor.history.pop(str(prompt_id), None)
        return web.Response(status=200)

    async def free(self, request: web.Request) -> web.Response:
        assert self.executor is not None
        body = await json_body(request)
        if body.get("unload_models") or body.get("free_memory"):
            self.executor.loaded_model = None
        if body.get("free_memory"):
            self.executor.cache.clear()
        return web.Response(status=200)
