"""A ComfyUI client written the way ComfyUI's own `script_examples` are: urllib for HTTP and a
plain websocket client, nothing from the router. Tests point it at the router instead of at one
ComfyUI to show that such clients work unchanged."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from websockets.sync.client import ClientConnection, connect


class ScriptClient:
    def __init__(
        self,
        server: str,
        *,
        auth: tuple[str, str] | None = ("admin", "admin"),
        token: str | None = None,
        client_id: str | None = None,
        prefix: str = "",
    ) -> None:
        self.server = server.rstrip("/")  # http://host:port
        self.prefix = prefix  # "/api": ComfyUI serves every route there too
        self.client_id = client_id or str(uuid.uuid4())
        self.headers: dict[str, str] = {}
        if auth is not None:
            encoded = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self.headers["Authorization"] = f"Basic {encoded}"
        self.token = token

    def url(self, path: str, **query: str) -> str:
        if self.token is not None:
            query["token"] = self.token
        query_string = "?" + urllib.parse.urlencode(query) if query else ""
        return self.server + self.prefix + path + query_string

    def request(self, method: str, path: str, body: Any = None, **query: str) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.url(path, **query), data=data, method=method, headers=self.headers
        )
        with urllib.request.urlopen(request, timeout=20) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def error(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """The status and JSON body of a request expected to fail."""
        try:
            self.request(method, path, body)
        except urllib.error.HTTPError as failed:
            return failed.code, json.loads(failed.read() or b"null")
        raise AssertionError(f"{method} {path} did not fail")

    def queue_prompt(self, prompt: dict[str, Any], **extra: Any) -> dict[str, Any]:
        body = {"prompt": prompt, "client_id": self.client_id, **extra}
        return self.request("POST", "/prompt", body)

    def history(self, prompt_id: str) -> dict[str, Any]:
        return self.request("GET", f"/history/{prompt_id}")

    def queue(self) -> dict[str, Any]:
        return self.request("GET", "/queue")

    def interrupt(self, prompt_id: str) -> None:
        self.request("POST", "/interrupt", {"prompt_id": prompt_id})

    def view(self, filename: str, subfolder: str, folder_type: str) -> bytes:
        query = {"filename": filename, "subfolder": subfolder, "type": folder_type}
        request = urllib.request.Request(self.url("/view", **query), headers=self.headers)
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.read()

    @contextmanager
    def websocket(
        self, feature_flags: bool = False, send_client_id: bool = True
    ) -> Iterator[ClientConnection]:
        """`send_client_id=False`: as ComfyUI's web frontend, which takes the id the server
        gives in the first `status` (its `sid`)."""
        ws_url = self.server.replace("http", "ws", 1) + self.prefix + "/ws"
        query = {"clientId": self.client_id} if send_client_id else {}
        if self.token is not None:
            query["token"] = self.token
        with connect(
            ws_url + ("?" + urllib.parse.urlencode(query) if query else ""),
            additional_headers=self.headers,
            max_size=None,
            open_timeout=10,
        ) as socket:
            if feature_flags:
                flags = {"supports_preview_metadata": True}
                socket.send(json.dumps({"type": "feature_flags", "data": flags}))
            yield socket


def follow(socket: ClientConnection, prompt_id: str, timeout: float = 30) -> list[Any]:
    """Every frame until the prompt's end marker (`executing` with no node), as
    websockets_api_example.py waits: text frames parsed, binary ones as bytes."""
    return frames_until(socket, lambda message: is_end_marker(message, prompt_id), timeout)


def follow_all(socket: ClientConnection, prompt_ids: list[str], timeout: float = 30) -> list[Any]:
    """Every frame until each of the prompts has had its end marker, in whatever order."""
    left = set(prompt_ids)

    def last(message: dict[str, Any]) -> bool:
        left.difference_update(p for p in list(left) if is_end_marker(message, p))
        return not left

    return frames_until(socket, last, timeout)


def executing(prompt_id: str, node: str) -> Callable[[dict[str, Any]], bool]:
    """For `frames_until`: the message saying the prompt's node `node` starts."""

    def starts(message: dict[str, Any]) -> bool:
        data = message.get("data") or {}
        return (
            message.get("type") == "executing"
            and data.get("node") == node
            and data.get("prompt_id") == prompt_id
        )

    return starts


def is_end_marker(message: dict[str, Any], prompt_id: str) -> bool:
    data = message.get("data") or {}
    return (
        message.get("type") == "executing"
        and data.get("node") is None
        and data.get("prompt_id") == prompt_id
    )


def frames_until(
    socket: ClientConnection, last: Callable[[dict[str, Any]], bool], timeout: float = 30
) -> list[Any]:
    """Every frame up to the first text message for which `last` is true, that one included."""
    frames: list[Any] = []
    while True:
        frame = socket.recv(timeout=timeout)
        if isinstance(frame, bytes):
            frames.append(frame)
            continue
        message = json.loads(frame)
        frames.append(message)
        if last(message):
            return frames
