"""What a real ComfyUI 0.8.0 sent, from the recorded traces, for checking what the router sends a
ComfyUI client: each websocket message's keys and value types against every recorded message of
its type, binary frames' headers, the order message types first appear in, and HTTP answers.

The traces are kept with the tests (`tests/comfyui_traces/`).
"""

from __future__ import annotations

import json
import struct
from functools import cache
from pathlib import Path
from typing import Any

import pytest

TRACES = Path(__file__).resolve().parents[1] / "comfyui_traces"
# Dicts keyed by node ids or input names, not by fixed fields: their keys are not compared.
KEYED_BY_ID = ("data.nodes", "data.current_inputs")


def require_traces() -> None:
    if not TRACES.is_dir():
        pytest.skip("the recorded ComfyUI traces are not here")


def trace(name: str) -> list[dict[str, Any]]:
    require_traces()
    lines = (TRACES / f"{name}.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"  # JSON has one number type; ComfyUI sends 1 and 1.0 alike
    return {str: "str", list: "list", dict: "dict"}[type(value)]


def flattened(value: Any, path: str = "") -> set[tuple[str, str]]:
    """Every (path, type) in a JSON value: `data.output.images[].filename` → str."""
    found = {(path, type_name(value))}
    if isinstance(value, dict):
        for key, item in value.items():
            name = "*" if path in KEYED_BY_ID else key
            found |= flattened(item, f"{path}.{name}" if path else name)
    elif isinstance(value, list):
        for item in value:
            found |= flattened(item, f"{path}[]")
    return found


@cache
def recorded_messages() -> dict[str, list[dict[str, Any]]]:
    """Every text message the real ComfyUI sent, in every trace, by type."""
    require_traces()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(TRACES.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            record = json.loads(line)
            if record.get("kind") == "ws_text":
                by_type.setdefault(record["msg"]["type"], []).append(record["msg"])
    return by_type


@cache
def recorded_shapes(kind: str) -> tuple[set[frozenset[str]], set[tuple[str, str]]]:
    """For one message type: the key sets its `data` had, and every (path, type) seen in it."""
    messages = recorded_messages().get(kind)
    assert messages, f"ComfyUI never sent a {kind!r} message in the traces"
    key_sets = {frozenset(m["data"]) for m in messages}
    paths = set().union(*(flattened(m) for m in messages))
    return key_sets, paths


def assert_shaped_like_comfyui(message: dict[str, Any], may_be_null: tuple[str, ...] = ()) -> None:
    """`message` has the keys a recorded message of its type had, and each value a type
    ComfyUI gave it; `may_be_null`: data keys the router leaves null where ComfyUI never did
    (a prompt ended by the router names no node)."""
    assert set(message) == {"type", "data"}, message
    key_sets, paths = recorded_shapes(message["type"])
    assert frozenset(message["data"]) in key_sets, (message, key_sets)
    nullable = {(f"data.{key}", "null") for key in may_be_null}
    unknown = flattened(message) - paths - nullable
    assert not unknown, (message["type"], sorted(unknown))


def binary_header(frame: bytes) -> tuple[int, int]:
    """(event, second word): ComfyUI's binary frames start with two big-endian u32."""
    event, word = struct.unpack(">II", frame[:8])
    return event, word


def preview_metadata(frame: bytes) -> dict[str, Any]:
    """The metadata of an event 4 frame (a preview with metadata)."""
    event, length = binary_header(frame)
    assert event == 4, event
    metadata = json.loads(frame[8 : 8 + length])
    assert isinstance(metadata, dict)
    return metadata


def recorded_preview_metadata_keys() -> set[str]:
    for name in ("empty_to_savewebsocket_featureflags", "sd15_txt2img_warm_featureflags"):
        for record in trace(name):
            if record["kind"] == "ws_binary" and record["u32_0"] == 4:
                return set(record["metadata"])
    raise AssertionError("no event 4 frame in the traces")


def kinds(frames: list[Any]) -> list[str]:
    """Each frame's kind: a text message's type, `bin<event>` for a binary frame."""
    return [
        f"bin{binary_header(f)[0]}" if isinstance(f, bytes) else str(f["type"]) for f in frames
    ]


def recorded_kinds(name: str) -> list[str]:
    return [
        str(r["msg"]["type"]) if r["kind"] == "ws_text" else f"bin{r['u32_0']}"
        for r in trace(name)
        if r["kind"] in ("ws_text", "ws_binary")
    ]


def first_appearances(sequence: list[str]) -> list[str]:
    return list(dict.fromkeys(sequence))


def recorded_http(name: str, method: str, path: str) -> dict[str, Any]:
    """The first recorded exchange of that method and path in a trace."""
    for record in trace(name):
        if record["kind"] == "http" and record["method"] == method and record["path"] == path:
            return record
    raise AssertionError(f"no {method} {path} in {name}")


def recorded_history_entry(name: str) -> dict[str, Any]:
    """The first `GET /history/{prompt_id}` entry a trace recorded."""
    for record in trace(name):
        if record["kind"] == "http" and record["path"].startswith("/history/"):
            [entry] = record["response"].values()
            return dict(entry)
    raise AssertionError(f"no GET /history/{{prompt_id}} in {name}")


def json_shape(value: Any) -> Any:
    """A JSON value with its leaves replaced by their types: two answers of one shape compare
    equal whatever ids, numbers and names they hold."""
    if isinstance(value, dict):
        return {key: json_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_shape(item) for item in value]
    return type_name(value)
