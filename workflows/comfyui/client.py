"""ComfyUI's HTTP + websocket protocol: the one place in the project that speaks it.

`ComfyUIClient` calls a node's HTTP API and opens its websocket, whose frames arrive decoded
as the events of `comfyui_events`; `PromptTracker` (`comfyui_tracker`) folds the events of one
prompt into progress, previews, outputs and a final state. Import all of it from here. Wire
details follow ComfyUI v0.8.0 as recorded in `../shared/comfyui/traces`.
"""

from __future__ import annotations

import json
import os
import secrets
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

from comfy_router.loop_local import loop_local
from workflows.comfyui.events import (
    Event,
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    FeatureFlags,
    NodeProgress,
    PreviewImage,
    Progress,
    ProgressState,
    Status,
    TextEvent,
    Unknown,
    decode_event,
    decode_message,
)
from workflows.comfyui.tracker import OutputFile, Preview, PromptTracker, WebsocketImage

# What a node may send back; past these it is misbehaving and the task ends with an error.
MAX_NODE_ANSWER_BYTES = 64 * 1024 * 1024  # one JSON answer (/prompt, /history/{id}, /queue)
MAX_NODE_OUTPUT_BYTES = 4 * 1024**3  # one output file from /view
MAX_NODE_MESSAGE_BYTES = 256 * 1024 * 1024  # one websocket message (SaveImageWebsocket images)

__all__ = [
    "ComfyUIClient",
    "ComfyUIError",
    "EventStream",
    "MessageTooBig",
    "NodeProtocolError",
    "NodeUnreachable",
    "PromptRejected",
    "WebsocketClosed",
    "describe_rejection",
    "Event",
    "Executed",
    "ExecutionCached",
    "ExecutionError",
    "ExecutionInterrupted",
    "ExecutionStart",
    "ExecutionSuccess",
    "Executing",
    "FeatureFlags",
    "NodeProgress",
    "PreviewImage",
    "Progress",
    "ProgressState",
    "Status",
    "TextEvent",
    "Unknown",
    "decode_event",
    "decode_message",
    "OutputFile",
    "Preview",
    "PromptTracker",
    "WebsocketImage",
]

# -- errors ----------------------------------------------------------------------------------


class ComfyUIError(Exception):
    """Base class for everything this module raises."""


class NodeUnreachable(ComfyUIError):
    """The node did not answer: connection refused or reset, DNS failure, timeout."""


class NodeProtocolError(ComfyUIError):
    """The node answered, but not the way ComfyUI does (unexpected status or body)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MessageTooBig(NodeProtocolError):
    """The node sent a websocket message past MAX_NODE_MESSAGE_BYTES: the connection is closed
    (1009), and the same prompt would only send it again."""


class WebsocketClosed(NodeUnreachable):
    """The node's websocket closed while events were still expected (the prompt may go on)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class PromptRejected(ComfyUIError):
    """`POST /prompt` refused the graph (400 with node_errors, or 500 for an unreadable graph)."""

    def __init__(
        self,
        message: str,
        node_errors: dict[str, Any],
        error: dict[str, Any] | None = None,
        status: int = 400,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.node_errors = node_errors
        self.error = error or {}
        self.status = status


def describe_rejection(error: dict[str, Any] | None, node_errors: dict[str, Any]) -> str:
    """A human message naming each failing node id, class_type and input."""
    problems = []
    for node_id, entry in node_errors.items():
        class_type = entry.get("class_type", "?")
        for item in entry.get("errors", []):
            input_name = (item.get("extra_info") or {}).get("input_name")
            where = f"node {node_id} ({class_type})" + (
                f" input '{input_name}'" if input_name else ""
            )
            details = item.get("details")
            problems.append(
                f"{where}: {item.get('message', 'invalid')}" + (f" ({details})" if details else "")
            )
    if problems:
        return "; ".join(problems)
    error = error or {}
    message = error.get("message") or "ComfyUI rejected the prompt"
    details = error.get("details")
    return f"{message}: {details}" if details and details != message else message


# -- HTTP + websocket client ----------------------------------------------------------------


class EventStream:
    """Async iterator of decoded events from one websocket; raises WebsocketClosed on close."""

    def __init__(
        self, connection: ClientConnection, client_id: str = "", max_message_bytes: int = 0
    ) -> None:
        self._connection = connection
        self.client_id = client_id
        self.max_message_bytes = max_message_bytes  # as the connection was opened with
        # The frame the latest event came from, as the node sent it: relayed to ComfyUI-style
        # clients (`workflows.execution.comfy_relay`), which want ComfyUI's exact messages.
        self.message: str | bytes = b""

    @property
    def open(self) -> bool:
        return self._connection.state is websockets.State.OPEN

    async def close(self) -> None:
        await self._connection.close()

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        try:
            message = await self._connection.recv()
        except websockets.ConnectionClosed as exc:
            raise closed_error(exc, self.max_message_bytes) from exc
        self.message = message
        return decode_message(message)


def closed_error(closed: websockets.ConnectionClosed, max_message_bytes: int) -> ComfyUIError:
    """What a closed websocket means: MessageTooBig when we closed it for a message past the
    bound, else WebsocketClosed (the prompt may go on)."""
    if closed.sent is not None and closed.sent.code == websockets.CloseCode.MESSAGE_TOO_BIG:
        return MessageTooBig(f"the node sent a websocket message over {max_message_bytes} bytes")
    code = closed.rcvd.code if closed.rcvd is not None else None
    return WebsocketClosed(f"websocket closed ({code or 'no close frame'})", code)


# Building an SSL context loads the CA bundle, which is slow: every task's client shares this one.
SSL_CONTEXT = httpx.create_ssl_context()


class NodeAnswer:
    """A node's whole HTTP answer, read within a size bound."""

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class ComfyUIClient:
    """One ComfyUI node. Use as `async with ComfyUIClient(url) as client:` or call aclose().

    Answers are bounded: `max_answer_bytes` for JSON, `max_view_bytes` for one /view file,
    `max_message_bytes` for one websocket message; past a bound the node is misbehaving.
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        timeout: float = 10,
        *,
        max_answer_bytes: int = MAX_NODE_ANSWER_BYTES,
        max_view_bytes: int = MAX_NODE_OUTPUT_BYTES,
        max_message_bytes: int = MAX_NODE_MESSAGE_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self.max_view_bytes = max_view_bytes
        self.max_message_bytes = max_message_bytes
        self._headers = [("Authorization", f"Bearer {token}")] if token else []
        self._timeouts = httpx.Timeout(timeout).as_dict()
        # Requests go straight to httpx's transport: a node needs none of what `AsyncClient`
        # adds (cookies, redirects, auth flows, proxies from the environment: nodes are reached
        # directly), and those layers add CPU to every request on a task's path.
        self._transport = httpx.AsyncHTTPTransport(verify=SSL_CONTEXT)

    async def __aenter__(self) -> ComfyUIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._transport.aclose()

    @asynccontextmanager
    async def _stream(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
    ) -> AsyncIterator[httpx.Response]:
        """The node's answer to one request, its body not read yet."""
        request = httpx.Request(
            method,
            self.base_url + path,
            params=params,
            json=json,
            headers=self._headers,
            extensions={"timeout": self._timeouts},
        )
        response = await self._transport.handle_async_request(request)
        try:
            yield response
        finally:
            await response.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> NodeAnswer:
        try:
            async with self._stream(method, path, **kwargs) as response:
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > self.max_answer_bytes:
                        raise NodeProtocolError(
                            f"{method} {path} answered more than {self.max_answer_bytes} bytes",
                            response.status_code,
                        )
                return NodeAnswer(response.status_code, bytes(body))
        except httpx.TransportError as exc:
            raise NodeUnreachable(f"{method} {self.base_url}{path}: {exc!r}") from exc
        except httpx.DecodingError as exc:
            raise NodeProtocolError(f"{method} {path} answered an undecodable body") from exc

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        if response.status_code != 200:
            raise NodeProtocolError(
                f"{method} {path} answered {response.status_code}", response.status_code
            )
        try:
            return response.json()
        except ValueError as exc:
            raise NodeProtocolError(
                f"{method} {path} answered non-JSON", response.status_code
            ) from exc

    async def system_stats(self) -> dict[str, Any]:
        stats = await self._json("GET", "/system_stats")
        if not isinstance(stats, dict) or "system" not in stats:
            raise NodeProtocolError("/system_stats is not ComfyUI's")
        return stats

    async def submit_prompt(
        self,
        graph: dict[str, Any],
        client_id: str,
        prompt_id: str | None = None,
        extra_data: dict[str, Any] | None = None,
    ) -> str:
        """POST /prompt; returns the prompt_id. Raises PromptRejected when ComfyUI refuses it."""
        body: dict[str, Any] = {"prompt": graph, "client_id": client_id}
        if prompt_id is not None:
            body["prompt_id"] = prompt_id
        if extra_data:
            body["extra_data"] = extra_data
        response = await self._request("POST", "/prompt", json=body)
        if response.status_code == 400:
            try:
                answer = response.json()
                if not isinstance(answer, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                raise NodeProtocolError("POST /prompt 400 without JSON", 400) from exc
            error, node_errors = answer.get("error") or {}, answer.get("node_errors") or {}
            if isinstance(error, str):
                error = {"message": error}
            raise PromptRejected(describe_rejection(error, node_errors), node_errors, error)
        if response.status_code == 500:
            raise PromptRejected(
                "ComfyUI could not read the prompt (is it an API-format graph?)",
                {},
                {"message": response.text[:500]},
                status=500,
            )
        if response.status_code != 200:
            raise NodeProtocolError(
                f"POST /prompt answered {response.status_code}", response.status_code
            )
        try:
            return str(response.json()["prompt_id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise NodeProtocolError("POST /prompt answered without a prompt_id", 200) from exc

    async def history(self, prompt_id: str) -> dict[str, Any] | None:
        """The history entry of a finished prompt, or None while it is unknown/pending/running."""
        answer = await self._json("GET", f"/history/{prompt_id}")
        entry = answer.get(prompt_id) if isinstance(answer, dict) else None
        return entry if isinstance(entry, dict) else None

    async def queue(self) -> dict[str, Any]:
        """`{"queue_running": [...], "queue_pending": [...]}`; items are [number, prompt_id, ...]."""
        return await self._json("GET", "/queue")

    async def queue_prompt_ids(self) -> tuple[list[str], list[str]]:
        """(running, pending) prompt ids."""
        queue = await self.queue()
        if not isinstance(queue, dict):
            raise NodeProtocolError("/queue is not ComfyUI's")
        ids = []
        for key in ("queue_running", "queue_pending"):
            items = queue.get(key)
            ids.append([
                str(item[1])
                for item in (items if isinstance(items, list) else [])
                if isinstance(item, list) and len(item) > 1
            ])
        return ids[0], ids[1]

    async def queue_delete(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts (a running one is not affected: interrupt it)."""
        await self._ok("POST", "/queue", json={"delete": list(prompt_ids)})

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt the running prompt; with prompt_id, only if that one is running."""
        await self._ok("POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else {})

    async def _ok(self, method: str, path: str, **kwargs: Any) -> None:
        response = await self._request(method, path, **kwargs)
        if response.status_code != 200:
            raise NodeProtocolError(
                f"{method} {path} answered {response.status_code}", response.status_code
            )

    async def download_view(
        self, filename: str, subfolder: str, type: str, dest_path: str | Path
    ) -> int:
        """Stream GET /view into dest_path (written whole or not at all); returns its size."""
        dest = Path(dest_path)
        # Its own partial file: two runs of one task (one that lost its lease and the one that
        # took over) never write into the same file.
        partial = dest.with_name(f"{dest.name}.{secrets.token_hex(4)}.part")
        params = {"filename": filename, "subfolder": subfolder, "type": type}
        size = 0
        try:
            async with self._stream("GET", "/view", params=params) as response:
                if response.status_code != 200:
                    raise NodeProtocolError(
                        f"GET /view {filename!r} answered {response.status_code}",
                        response.status_code,
                    )
                with partial.open("wb") as f:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > self.max_view_bytes:
                            raise NodeProtocolError(
                                f"GET /view {filename!r} sent more than {self.max_view_bytes} bytes"
                            )
                        f.write(chunk)
            os.replace(partial, dest)
        except httpx.TransportError as exc:
            raise NodeUnreachable(f"GET /view {filename!r}: {exc!r}") from exc
        except httpx.DecodingError as exc:
            raise NodeProtocolError(f"GET /view {filename!r}: undecodable body") from exc
        finally:
            partial.unlink(missing_ok=True)
        return size

    def websocket_url(self, client_id: str) -> str:
        scheme, rest = self.base_url.split("://", 1)
        query = {"clientId": client_id, **({"token": self.token} if self.token else {})}
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws?{urlencode(query)}"

    @asynccontextmanager
    async def websocket(
        self, client_id: str, preview_metadata: bool = True
    ) -> AsyncIterator[EventStream]:
        """Connect to /ws as client_id. With preview_metadata, previews carry node and prompt ids."""
        stream = await self.open_websocket(client_id, preview_metadata)
        try:
            yield stream
        finally:
            await stream.close()

    async def open_websocket(self, client_id: str, preview_metadata: bool = True) -> EventStream:
        """`websocket` for a connection that outlives a block: the caller closes it."""
        try:
            connection = await connect(
                self.websocket_url(client_id),
                additional_headers=self._headers,
                open_timeout=self.timeout,
                max_size=self.max_message_bytes,
                proxy=None,
                compression=None,
                ping_timeout=40,  # a busy node may answer pings late; a dead one is noticed anyway
                close_timeout=2,
            )
        except websockets.InvalidStatus as exc:
            raise NodeProtocolError(f"websocket refused: {exc}", exc.response.status_code) from exc
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise NodeUnreachable(f"websocket {self.base_url}: {exc!r}") from exc
        if preview_metadata:
            flags = {"type": "feature_flags", "data": {"supports_preview_metadata": True}}
            try:
                await connection.send(json.dumps(flags))
            except BaseException as exc:
                connection.transport.abort()
                if isinstance(exc, websockets.ConnectionClosed):
                    raise closed_error(exc, self.max_message_bytes) from exc
                raise
        return EventStream(connection, client_id, self.max_message_bytes)


class NodeClients:
    """One open `ComfyUIClient` per node (URL and token) and event loop, kept from task to task
    so that requests to a node reuse its connections instead of opening one per task.

    A client is never closed here while a run may still use it; past `max_clients` (nodes whose
    URL or token changed, or were removed) the oldest is dropped and its idle connections go
    with it."""

    def __init__(self, max_clients: int = 1000) -> None:
        self.max_clients = max_clients
        self._clients = loop_local(OrderedDict[tuple[str, str], ComfyUIClient])

    def get(self, url: str, token: str | None = None) -> ComfyUIClient:
        clients = self._clients()
        key = (url, token or "")
        client = clients.get(key)
        if client is None:
            client = clients[key] = ComfyUIClient(url, token or None)
            while len(clients) > self.max_clients:
                clients.popitem(last=False)
        else:
            clients.move_to_end(key)
        return client


node_clients = NodeClients()
