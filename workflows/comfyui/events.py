"""ComfyUI's websocket messages as typed events (part of the ComfyUI protocol, see comfyui_client).

`decode_message` turns a websocket frame (text JSON or binary) into one of the dataclasses
below; `decode_event` does the same for a `(type, data)` pair, as found in `/history`.
Binary frames are two big-endian uint32 (event type, then image format or a length) and a
payload: 1 = preview image (1 JPEG, 2 PNG), 3 = text for a node, 4 = preview with metadata.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any

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
    timestamp: int | None = None  # milliseconds, by the node's clock


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
    timestamp: int | None = None  # milliseconds, by the node's clock


@dataclass(frozen=True, kw_only=True)
class ExecutionError(Event):
    node_id: str | None
    node_type: str | None
    exception_type: str
    exception_message: str
    traceback: list[str] = field(default_factory=list)
    executed: list[str] = field(default_factory=list)
    timestamp: int | None = None


@dataclass(frozen=True, kw_only=True)
class ExecutionInterrupted(Event):
    node_id: str | None = None
    node_type: str | None = None
    executed: list[str] = field(default_factory=list)
    timestamp: int | None = None


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


def _timestamp(data: dict[str, Any]) -> int | None:
    stamp = data.get("timestamp")
    return stamp if isinstance(stamp, int) and not isinstance(stamp, bool) else None


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
            return ExecutionStart(prompt_id=prompt_id, timestamp=_timestamp(data))
        if event_type == "execution_cached":
            return ExecutionCached(
                prompt_id=prompt_id, nodes=[str(n) for n in data.get("nodes", [])]
            )
        if event_type == "executing":
            node = data.get("node")
            return Executing(prompt_id=prompt_id, node=None if node is None else str(node))
        if event_type == "progress":
            node = data.get("node")
            return Progress(
                prompt_id=prompt_id,
                value=int(data["value"]),
                max=int(data["max"]),
                node=None if node is None else str(node),
            )
        if event_type == "progress_state":
            nodes = {
                str(k): NodeProgress(
                    value=float(v.get("value", 0)),
                    max=float(v.get("max", 1)),
                    state=str(v.get("state", "")),
                )
                for k, v in (data.get("nodes") or {}).items()
            }
            return ProgressState(prompt_id=prompt_id, nodes=nodes)
        if event_type == "executed":
            output = data.get("output") or {}
            if not isinstance(output, dict):
                raise TypeError("output is not a mapping")
            return Executed(prompt_id=prompt_id, node=str(data["node"]), output=output)
        if event_type == "execution_success":
            return ExecutionSuccess(prompt_id=prompt_id, timestamp=_timestamp(data))
        if event_type == "execution_error":
            return ExecutionError(
                prompt_id=prompt_id,
                node_id=_opt_str(data.get("node_id")),
                node_type=data.get("node_type"),
                exception_type=str(data.get("exception_type", "")),
                exception_message=str(data.get("exception_message", "")),
                traceback=list(data.get("traceback") or []),
                executed=list(data.get("executed") or []),
                timestamp=_timestamp(data),
            )
        if event_type == "execution_interrupted":
            return ExecutionInterrupted(
                prompt_id=prompt_id,
                node_id=_opt_str(data.get("node_id")),
                node_type=data.get("node_type"),
                executed=list(data.get("executed") or []),
                timestamp=_timestamp(data),
            )
    except (AttributeError, KeyError, TypeError, ValueError):  # a node's message of the wrong shape
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
        return PreviewImage(
            image_format=IMAGE_FORMATS.get(word, "application/octet-stream"), data=payload
        )
    if event == EVENT_TEXT and word <= len(payload):
        return TextEvent(
            node_id=payload[:word].decode("utf-8", "replace"),
            text=payload[word:].decode("utf-8", "replace"),
        )
    if event == EVENT_PREVIEW_WITH_METADATA and word <= len(payload):
        try:
            metadata = json.loads(payload[:word])
        except ValueError:
            metadata = {}
        if isinstance(metadata, dict):
            return PreviewImage(
                image_format=str(metadata.get("image_type", "image/jpeg")),
                data=payload[word:],
                node_id=_opt_str(metadata.get("node_id")),
                prompt_id=_opt_str(metadata.get("prompt_id")),
            )
    return Unknown(type=f"binary:{event}", data=message)


def preview_with_metadata(frame: bytes) -> tuple[dict[str, Any], bytes] | None:
    """A preview-with-metadata frame (event 4) as its metadata and image; None for any other
    frame, or one whose metadata is no JSON object."""
    if len(frame) < 8:
        return None
    event, length = struct.unpack(">II", frame[:8])
    if event != EVENT_PREVIEW_WITH_METADATA or length > len(frame) - 8:
        return None
    try:
        metadata = json.loads(frame[8 : 8 + length])
    except ValueError:
        return None
    return (metadata, frame[8 + length :]) if isinstance(metadata, dict) else None


def encode_preview_with_metadata(metadata: dict[str, Any], image: bytes) -> bytes:
    encoded = json.dumps(metadata).encode()
    return struct.pack(">II", EVENT_PREVIEW_WITH_METADATA, len(encoded)) + encoded + image


def encode_preview(format_code: int, image: bytes) -> bytes:
    """A preview frame (event 1) as clients without metadata read it: format code, image."""
    return struct.pack(">II", EVENT_PREVIEW_IMAGE, format_code) + image
