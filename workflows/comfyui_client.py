"""ComfyUI's HTTP + websocket protocol: the one module in the project that speaks it.

`ComfyUIClient` calls a node's HTTP API and opens its websocket; `decode_message` turns
websocket frames into the event dataclasses below; `PromptTracker` folds the events of one
prompt into progress, previews, outputs and a final state. Wire details follow ComfyUI
v0.8.0 as recorded in `../shared/comfyui/traces`.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlencode

import httpx
import websockets
from websockets.asyncio.client import ClientConnection, connect

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


class WebsocketClosed(NodeUnreachable):
    """The node's websocket closed while events were still expected (the prompt may go on)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class PromptRejected(ComfyUIError):
    """`POST /prompt` refused the graph (400 with node_errors, or 500 for an unreadable graph)."""

    def __init__(self, message: str, node_errors: dict[str, Any], error: dict[str, Any] | None = None,
                 status: int = 400) -> None:
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
            where = f"node {node_id} ({class_type})" + (f" input '{input_name}'" if input_name else "")
            details = item.get("details")
            problems.append(f"{where}: {item.get('message', 'invalid')}" + (f" ({details})" if details else ""))
    if problems:
        return "; ".join(problems)
    error = error or {}
    message = error.get("message") or "ComfyUI rejected the prompt"
    details = error.get("details")
    return f"{message}: {details}" if details and details != message else message


# -- events ----------------------------------------------------------------------------------

EVENT_PREVIEW_IMAGE = 1
EVENT_TEXT = 3
EVENT_PREVIEW_WITH_METADATA = 4
IMAGE_FORMATS = {1: "image/jpeg", 2: "image/png"}


@dataclass(frozen=True, kw_only=True)
class Event:
    prompt_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Status(Event):
    queue_remaining: int
    sid: str | None = None


@dataclass(frozen=True, kw_only=True)
class FeatureFlags(Event):
    flags: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ExecutionStart(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class ExecutionCached(Event):
    nodes: list[str]


@dataclass(frozen=True, kw_only=True)
class Executing(Event):
    node: str | None  # None with a prompt_id: the end marker of that prompt


@dataclass(frozen=True, kw_only=True)
class Progress(Event):
    value: int
    max: int
    node: str | None = None


@dataclass(frozen=True, kw_only=True)
class NodeProgress:
    value: float
    max: float
    state: str  # "running" | "finished"


@dataclass(frozen=True, kw_only=True)
class ProgressState(Event):
    nodes: dict[str, NodeProgress]


@dataclass(frozen=True, kw_only=True)
class Executed(Event):
    node: str
    output: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class ExecutionSuccess(Event):
    pass


@dataclass(frozen=True, kw_only=True)
class ExecutionError(Event):
    node_id: str | None
    node_type: str | None
    exception_type: str
    exception_message: str
    traceback: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class ExecutionInterrupted(Event):
    node_id: str | None = None
    node_type: str | None = None
    executed: list[str] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class PreviewImage(Event):
    image_format: str  # content type: "image/jpeg" | "image/png"
    data: bytes
    node_id: str | None = None  # known for event 4 (preview with metadata)


@dataclass(frozen=True, kw_only=True)
class TextEvent(Event):
    node_id: str
    text: str


@dataclass(frozen=True, kw_only=True)
class Unknown(Event):
    type: str
    data: Any


def decode_event(event_type: str, data: Any) -> Event:
    """One text message (`{"type", "data"}`) as an event; also used for history messages."""
    if not isinstance(data, dict):
        return Unknown(type=event_type, data=data)
    prompt_id = data.get("prompt_id")
    try:
        if event_type == "status":
            info = (data.get("status") or {}).get("exec_info") or {}
            return Status(queue_remaining=int(info.get("queue_remaining", 0)), sid=data.get("sid"))
        if event_type == "feature_flags":
            return FeatureFlags(flags=data)
        if event_type == "execution_start":
            return ExecutionStart(prompt_id=prompt_id)
        if event_type == "execution_cached":
            return ExecutionCached(prompt_id=prompt_id, nodes=[str(n) for n in data.get("nodes", [])])
        if event_type == "executing":
            node = data.get("node")
            return Executing(prompt_id=prompt_id, node=None if node is None else str(node))
        if event_type == "progress":
            node = data.get("node")
            return Progress(prompt_id=prompt_id, value=int(data["value"]), max=int(data["max"]),
                            node=None if node is None else str(node))
        if event_type == "progress_state":
            nodes = {str(k): NodeProgress(value=float(v.get("value", 0)), max=float(v.get("max", 1)),
                                          state=str(v.get("state", "")))
                     for k, v in (data.get("nodes") or {}).items()}
            return ProgressState(prompt_id=prompt_id, nodes=nodes)
        if event_type == "executed":
            return Executed(prompt_id=prompt_id, node=str(data["node"]), output=data.get("output") or {})
        if event_type == "execution_success":
            return ExecutionSuccess(prompt_id=prompt_id)
        if event_type == "execution_error":
            return ExecutionError(
                prompt_id=prompt_id, node_id=_opt_str(data.get("node_id")), node_type=data.get("node_type"),
                exception_type=str(data.get("exception_type", "")),
                exception_message=str(data.get("exception_message", "")),
                traceback=list(data.get("traceback") or []), executed=list(data.get("executed") or []))
        if event_type == "execution_interrupted":
            return ExecutionInterrupted(prompt_id=prompt_id, node_id=_opt_str(data.get("node_id")),
                                        node_type=data.get("node_type"),
                                        executed=list(data.get("executed") or []))
    except (KeyError, TypeError, ValueError):
        pass
    return Unknown(type=event_type, data=data, prompt_id=prompt_id)


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)


def decode_message(message: str | bytes) -> Event:
    """A websocket frame as an event. Binary frames: two big-endian uint32, then payload."""
    if isinstance(message, str):
        try:
            parsed = json.loads(message)
        except ValueError:
            return Unknown(type="invalid", data=message)
        if not isinstance(parsed, dict):
            return Unknown(type="invalid", data=parsed)
        return decode_event(str(parsed.get("type")), parsed.get("data"))
    if len(message) < 8:
        return Unknown(type="binary", data=message)
    event, word = struct.unpack(">II", message[:8])
    payload = message[8:]
    if event == EVENT_PREVIEW_IMAGE:
        return PreviewImage(image_format=IMAGE_FORMATS.get(word, "application/octet-stream"), data=payload)
    if event == EVENT_TEXT and word <= len(payload):
        return TextEvent(node_id=payload[:word].decode("utf-8", "replace"),
                         text=payload[word:].decode("utf-8", "replace"))
    if event == EVENT_PREVIEW_WITH_METADATA and word <= len(payload):
        try:
            metadata = json.loads(payload[:word])
        except ValueError:
            metadata = {}
        if isinstance(metadata, dict):
            return PreviewImage(image_format=str(metadata.get("image_type", "image/jpeg")),
                                data=payload[word:], node_id=_opt_str(metadata.get("node_id")),
                                prompt_id=_opt_str(metadata.get("prompt_id")))
    return Unknown(type=f"binary:{event}", data=message)


# -- HTTP + websocket client ----------------------------------------------------------------


class EventStream:
    """Async iterator of decoded events from one websocket; raises WebsocketClosed on close."""

    def __init__(self, connection: ClientConnection) -> None:
        self._connection = connection

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> Event:
        try:
            message = await self._connection.recv()
        except websockets.ConnectionClosed as exc:
            code = exc.rcvd.code if exc.rcvd is not None else None
            raise WebsocketClosed(f"websocket closed ({code or 'no close frame'})", code) from exc
        return decode_message(message)


class ComfyUIClient:
    """One ComfyUI node. Use as `async with ComfyUIClient(url) as client:` or call aclose()."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # trust_env=False: nodes are reached directly, never through an environment proxy.
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=timeout,
                                       trust_env=False)

    async def __aenter__(self) -> ComfyUIClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise NodeUnreachable(f"{method} {self.base_url}{path}: {exc!r}") from exc

    async def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self._request(method, path, **kwargs)
        if response.status_code != 200:
            raise NodeProtocolError(f"{method} {path} answered {response.status_code}", response.status_code)
        try:
            return response.json()
        except ValueError as exc:
            raise NodeProtocolError(f"{method} {path} answered non-JSON", response.status_code) from exc

    async def system_stats(self) -> dict[str, Any]:
        stats = await self._json("GET", "/system_stats")
        if not isinstance(stats, dict) or "system" not in stats:
            raise NodeProtocolError("/system_stats is not ComfyUI's")
        return stats

    async def submit_prompt(self, graph: dict[str, Any], client_id: str, prompt_id: str | None = None,
                            extra_data: dict[str, Any] | None = None) -> str:
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
            except ValueError as exc:
                raise NodeProtocolError("POST /prompt 400 without JSON", 400) from exc
            error, node_errors = answer.get("error") or {}, answer.get("node_errors") or {}
            if isinstance(error, str):
                error = {"message": error}
            raise PromptRejected(describe_rejection(error, node_errors), node_errors, error)
        if response.status_code == 500:
            raise PromptRejected("ComfyUI could not read the prompt (is it an API-format graph?)", {},
                                 {"message": response.text[:500]}, status=500)
        if response.status_code != 200:
            raise NodeProtocolError(f"POST /prompt answered {response.status_code}", response.status_code)
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
        ids = [[str(item[1]) for item in queue.get(key, []) if len(item) > 1]
               for key in ("queue_running", "queue_pending")]
        return ids[0], ids[1]

    async def queue_delete(self, prompt_ids: list[str]) -> None:
        """Remove pending prompts (a running one is not affected: interrupt it)."""
        await self._ok("POST", "/queue", json={"delete": list(prompt_ids)})

    async def interrupt(self, prompt_id: str | None = None) -> None:
        """Interrupt the running prompt; with prompt_id, only if that one is running."""
        await self._ok("POST", "/interrupt", json={"prompt_id": prompt_id} if prompt_id else {})

    async def free(self, unload_models: bool = True, free_memory: bool = False) -> None:
        await self._ok("POST", "/free", json={"unload_models": unload_models, "free_memory": free_memory})

    async def _ok(self, method: str, path: str, **kwargs: Any) -> None:
        response = await self._request(method, path, **kwargs)
        if response.status_code != 200:
            raise NodeProtocolError(f"{method} {path} answered {response.status_code}", response.status_code)

    async def download_view(self, filename: str, subfolder: str, type: str, dest_path: str | Path) -> int:
        """Stream GET /view into dest_path (written whole or not at all); returns its size."""
        dest = Path(dest_path)
        partial = dest.with_name(dest.name + ".part")
        params = {"filename": filename, "subfolder": subfolder, "type": type}
        size = 0
        try:
            async with self._http.stream("GET", "/view", params=params) as response:
                if response.status_code != 200:
                    raise NodeProtocolError(f"GET /view {filename!r} answered {response.status_code}",
                                            response.status_code)
                with partial.open("wb") as f:
                    async for chunk in response.aiter_bytes():
                        f.write(chunk)
                        size += len(chunk)
            os.replace(partial, dest)
        except httpx.TransportError as exc:
            raise NodeUnreachable(f"GET /view {filename!r}: {exc!r}") from exc
        finally:
            partial.unlink(missing_ok=True)
        return size

    def websocket_url(self, client_id: str) -> str:
        scheme, rest = self.base_url.split("://", 1)
        query = {"clientId": client_id, **({"token": self.token} if self.token else {})}
        return f"{'wss' if scheme == 'https' else 'ws'}://{rest}/ws?{urlencode(query)}"

    @asynccontextmanager
    async def websocket(self, client_id: str, preview_metadata: bool = True) -> AsyncIterator[EventStream]:
        """Connect to /ws as client_id. With preview_metadata, previews carry node and prompt ids."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        try:
            connection = await connect(self.websocket_url(client_id), additional_headers=headers,
                                       open_timeout=self.timeout, max_size=None, proxy=None,
                                       compression=None)
        except websockets.InvalidStatus as exc:
            raise NodeProtocolError(f"websocket refused: {exc}", exc.response.status_code) from exc
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise NodeUnreachable(f"websocket {self.base_url}: {exc!r}") from exc
        try:
            if preview_metadata:
                await connection.send(json.dumps({"type": "feature_flags",
                                                  "data": {"supports_preview_metadata": True}}))
            yield EventStream(connection)
        finally:
            await connection.close()


# -- following one prompt --------------------------------------------------------------------

SAMPLER_CLASSES = frozenset({"KSampler", "KSamplerAdvanced", "SamplerCustom", "SamplerCustomAdvanced"})
WEBSOCKET_OUTPUT_CLASSES = frozenset({"SaveImageWebsocket"})
OUTPUT_KINDS = ("images", "gifs", "videos", "video", "audio", "files")


@dataclass(frozen=True)
class Preview:
    data: bytes
    content_type: str
    node_id: str | None = None


@dataclass(frozen=True)
class OutputFile:
    """A file ComfyUI saved, to fetch with download_view(filename, subfolder, type)."""

    node_id: str
    filename: str
    subfolder: str
    type: str  # "output" | "temp" | "input"
    kind: str  # key of the UI output: "images", "gifs", "videos", "audio", ...


@dataclass(frozen=True)
class WebsocketImage:
    node_id: str | None
    data: bytes
    content_type: str


def _sampler_steps(graph: dict[str, Any], node_id: str) -> int:
    inputs = graph.get(node_id, {}).get("inputs", {})
    candidates = [inputs] + [graph.get(v[0], {}).get("inputs", {}) for v in inputs.values()
                             if isinstance(v, list) and len(v) == 2 and v[0] in graph]
    for found in candidates:
        steps = found.get("steps")
        if isinstance(steps, int) and steps > 0:
            return steps
    return 1


class PromptTracker:
    """Folds the events of one prompt into progress, previews, outputs and the final state.

    `progress` (0..1, never decreasing) weighs each node 1 and a sampler node its steps, and
    counts cached nodes as done. Outputs are limited to `output_node` when given.
    """

    def __init__(self, graph: dict[str, Any], prompt_id: str, output_node: str | None = None) -> None:
        self.graph = graph
        self.prompt_id = prompt_id
        self.output_node = output_node
        self.weights = {node_id: float(_sampler_steps(graph, node_id))
                        if node.get("class_type") in SAMPLER_CLASSES else 1.0
                        for node_id, node in graph.items() if isinstance(node, dict)}
        self.total_weight = sum(self.weights.values()) or 1.0
        self.progress = 0.0
        self.started = False
        self.cached: list[str] = []
        self.current_node: str | None = None
        self.latest_preview: Preview | None = None
        self.websocket_images: list[WebsocketImage] = []
        self.executed: dict[str, dict[str, Any]] = {}
        self.outputs: list[OutputFile] = []
        self.state: Literal["success", "error", "interrupted"] | None = None
        self.error: ExecutionError | None = None
        self.interruption: ExecutionInterrupted | None = None
        self.ended = False
        self._done: set[str] = set()
        self._partial: dict[str, float] = {}

    @property
    def finished(self) -> bool:
        return self.ended or self.state is not None

    def class_type(self, node_id: str | None) -> str | None:
        node = self.graph.get(node_id) if node_id is not None else None
        return node.get("class_type") if isinstance(node, dict) else None

    def feed(self, event: Event) -> bool:
        """Apply one event; returns True when progress, preview, outputs or state changed."""
        if event.prompt_id is not None and event.prompt_id != self.prompt_id:
            return False
        if isinstance(event, PreviewImage):
            return self._preview(event)
        if event.prompt_id is None and not isinstance(event, Executing):
            return False
        if isinstance(event, ExecutionStart):
            self.started = True
            return False
        if isinstance(event, ExecutionCached):
            self.started = True
            self.cached = list(event.nodes)
            self._done.update(event.nodes)
            return self._update_progress()
        if isinstance(event, Executing):
            return self._executing(event)
        if isinstance(event, ProgressState):
            for node_id, state in event.nodes.items():
                if state.state == "finished":
                    self._done.add(node_id)
                elif state.max > 0:
                    self._partial[node_id] = min(state.value / state.max, 1.0)
            return self._update_progress()
        if isinstance(event, Progress):
            if event.node is not None and event.max > 0:
                self._partial[event.node] = min(event.value / event.max, 1.0)
            return self._update_progress()
        if isinstance(event, Executed):
            return self._executed(event.node, event.output)
        if isinstance(event, ExecutionSuccess):
            self.state = "success"
            self.progress = 1.0
            return True
        if isinstance(event, ExecutionError):
            self.state, self.error = "error", event
            return True
        if isinstance(event, ExecutionInterrupted):
            self.state, self.interruption = "interrupted", event
            return True
        return False

    def _executing(self, event: Executing) -> bool:
        if event.node is None:
            if event.prompt_id is None:
                return False
            self.ended = True
            self.current_node = None
            return True
        if self.current_node is not None and self.current_node != event.node:
            self._done.add(self.current_node)
        self.started = True
        self.current_node = event.node
        return self._update_progress()

    def _preview(self, event: PreviewImage) -> bool:
        node_id = event.node_id or self.current_node
        if node_id is None or self.finished:
            return False  # not during our prompt: someone else's broadcast frame
        if self.class_type(node_id) in WEBSOCKET_OUTPUT_CLASSES:
            if self.output_node is None or node_id == self.output_node:
                self.websocket_images.append(WebsocketImage(node_id, event.data, event.image_format))
                return True
            return False
        self.latest_preview = Preview(event.data, event.image_format, node_id)
        return True

    def _executed(self, node_id: str, output: dict[str, Any]) -> bool:
        self.executed[node_id] = output
        if self.output_node is not None and node_id != self.output_node:
            return False
        changed = False
        for kind in OUTPUT_KINDS:
            for item in output.get(kind) or []:
                if not isinstance(item, dict) or "filename" not in item:
                    continue
                found = OutputFile(node_id, str(item["filename"]), str(item.get("subfolder", "")),
                                   str(item.get("type", "output")), kind)
                if found not in self.outputs:
                    self.outputs.append(found)
                    changed = True
        return changed

    def _update_progress(self) -> bool:
        done = sum(self.weights.get(n, 0.0) for n in self._done)
        partial = sum(self.weights.get(n, 0.0) * f for n, f in self._partial.items() if n not in self._done)
        value = min((done + partial) / self.total_weight, 1.0)
        if value > self.progress:
            self.progress = value
            return True
        return False

    def apply_history(self, entry: dict[str, Any]) -> None:
        """Settle the prompt from its `/history/{prompt_id}` entry (e.g. after losing the websocket)."""
        status = entry.get("status") or {}
        for message in status.get("messages") or []:
            if isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict):
                self.feed(decode_event(str(message[0]), {"prompt_id": self.prompt_id, **message[1]}))
        for node_id, output in (entry.get("outputs") or {}).items():
            if isinstance(output, dict):
                self._executed(str(node_id), output)
        if self.state is None and status.get("status_str") == "success" and status.get("completed"):
            self.state, self.progress = "success", 1.0
        elif self.state is None and status.get("status_str") == "error":
            self.state = "error"
            self.error = ExecutionError(prompt_id=self.prompt_id, node_id=None, node_type=None,
                                        exception_type="", exception_message="ComfyUI reported an error")
        self.ended = True
