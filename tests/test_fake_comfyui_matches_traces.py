"""The fake ComfyUI reproduces every recorded trace of the real ComfyUI v0.8.0.

Each trace's requests are replayed against a fresh fake, in order: before each request we wait
until the fake has sent as many websocket messages as the real server had at that moment, so
interrupts and queue edits land at the same point of the run. Then the sequence of websocket
messages (type, payload keys and the values that carry meaning) and binary frame header words
are compared with the trace, and so are the HTTP statuses and bodies.

What differs on purpose, per trace, is in CONFIG below:
- warm-up runs recreate what was cached on the real server before the trace was recorded;
- failures that needed real model code (ImageToMask on an RGB image, a dummy Flux VAE) are
  produced with the fake's `fail_at_node` knob; a corrupt LoadImage file fails natively;
- delays stand in for the seconds real nodes took, so interrupts land where they did (they
  are generous: the requests sent meanwhile must fit in them on a loaded 2-core machine);
- where a second prompt is posted while the first runs, the interleaving of `status` messages
  with execution messages is timing-dependent even on a real server, so those traces compare
  the status subsequence and the execution subsequence separately.
Not replayed: `/api/jobs` (the router does not use it), `/extensions` and `/` (frontend),
and `/object_info`'s full body (not recorded; the fake serves the recorded object_info.json).
Observer traces are compared while replaying their owner's run (second websocket).
"""

from __future__ import annotations

import asyncio
import copy
import io
import json
import re
import struct
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image

from tests.fake_comfyui import FakeComfyUI

TRACES = Path(__file__).resolve().parent / "comfyui_traces"
OBSERVERS = {
    "binary_text_event": "binary_text_event_observer",
    "two_clients_owner": "two_clients_observer",
}
CONFIG: dict[str, dict[str, Any]] = {
    "basic_endpoints": {
        "warmup": "binary_text_event"
    },  # /history?max_items=1 needs a finished prompt
    "empty_to_savewebsocket_featureflags": {"warmup": "same"},
    "upload_image": {"warmup": "same"},
    "sd15_txt2img_warm_featureflags": {"warmup": "reseed"},
    "sd15_txt2img_warm_nopreview": {"warmup": "reseed"},
    "sdxl_txt2img_warm": {"warmup": "reseed"},
    "sd15_txt2img_256_20steps_concurrent": {"warmup": "resize"},
    "sd15_interrupt_mid_sampling": {"warmup": "reseed", "step_delay": 0.3},
    "interrupt": {"node_delay": 0.4},
    "interrupt_targeted": {"node_delay": 0.4},
    "queue_clear": {"node_delay": 0.4, "interleaved": False},
    "queue_delete": {"node_delay": 0.15, "interleaved": False},
    "duplicate_prompt_id": {"node_delay": 0.2, "interleaved": False},
    "err_exec_image_to_mask_alpha": {"fail_at_node": "2", "fail_exception_type": "IndexError"},
    "flux_dummy_accepted_then_fails": {"fail_at_node": "12"},
}
NOT_REPLAYED = ("/api/jobs", "/extensions", "/no/such/route")
SHAPE_ONLY = ("/history", "/api/history", "/system_stats", "/api/system_stats", "/queue", "/models")
MODEL_FILES = {
    "checkpoints": ["sd15_random.safetensors", "sdxl_random.safetensors"],
    "unet": ["flux1-dev.safetensors"],
    "clip": ["clip_l.safetensors", "t5xxl_fp8_e4m3fn.safetensors"],
    "vae": ["ae.safetensors"],
}


def load(name: str) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in (TRACES / f"{name}.jsonl").read_text().splitlines()
        if line.strip()
    ]


def trace_names() -> list[str]:
    if not TRACES.is_dir():
        return []
    return sorted(p.stem for p in TRACES.glob("*.jsonl") if p.stem not in OBSERVERS.values())


def png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def prepare_root(root: Path) -> None:
    for folder, names in MODEL_FILES.items():
        for name in names:
            (root / "models" / folder).mkdir(parents=True, exist_ok=True)
            (root / "models" / folder / name).write_bytes(b"dummy")
    (root / "input" / "peer").mkdir(parents=True, exist_ok=True)
    shared = root / "shared_input_80x60.png"
    shared.write_bytes(png(80, 60))
    (root / "input" / "symlinked_input.png").symlink_to(shared)
    (root / "input" / "corrupt.png").write_bytes(bytes(range(200)))
    (root / "input" / "peer" / "uploaded.png").write_bytes(png(80, 60))


# -- signatures of messages --------------------------------------------------------------------


def normalise_output(output: Any) -> Any:
    text = json.dumps(output, sort_keys=True)
    return json.loads(
        re.sub(r"_\d{5}_", "_N_", re.sub(r"ComfyUI_temp_[a-z]{5}", "ComfyUI_temp_X", text))
    )


def text_signature(message: dict[str, Any]) -> list[Any]:
    kind, data = message["type"], message["data"]
    signature: list[Any] = [kind, sorted(data)]
    if kind == "status":
        signature += [data["status"]["exec_info"]["queue_remaining"], "sid" in data]
    elif kind == "executing":
        signature.append(data["node"])
    elif kind == "execution_cached":
        signature.append(data["nodes"])
    elif kind == "progress":
        signature += [data["value"], data["max"], data["node"]]
    elif kind == "progress_state":
        signature.append(
            {
                n: [e["state"], float(e["value"]), float(e["max"]), sorted(e)]
                for n, e in data["nodes"].items()
            }
        )
    elif kind == "executed":
        signature += [data["node"], normalise_output(data["output"])]
    elif kind in ("execution_error", "execution_interrupted"):
        signature += [data["node_id"], data["node_type"], sorted(data["executed"])]
    elif kind == "feature_flags":
        signature.append(data)
    return signature


def binary_signature(
    event: int,
    word: int,
    metadata: dict[str, Any] | None,
    text: str | None,
    image_format: str | None,
    image_size: list[int] | None,
) -> list[Any]:
    signature: list[Any] = ["binary", event, word]
    if metadata is not None:
        signature.append(
            {k: v for k, v in metadata.items() if k != "prompt_id"} | {"keys": sorted(metadata)}
        )
    if text is not None:
        signature.append(text)
    if image_format is not None:
        signature.append(image_format)
        if image_format == "PNG":
            signature.append(list(image_size or []))
    return signature


def recorded_signature(record: dict[str, Any]) -> list[Any]:
    if record["kind"] == "ws_text":
        return text_signature(record["msg"])
    return binary_signature(
        record["u32_0"],
        record["u32_1"],
        record.get("metadata"),
        record.get("text"),
        record.get("image_format"),
        record.get("image_size"),
    )


def received_signature(message: str | bytes) -> list[Any]:
    if isinstance(message, str):
        return text_signature(json.loads(message))
    event, word = struct.unpack(">II", message[:8])
    payload, metadata, text, image = message[8:], None, None, None
    if event == 3:
        text = payload[word:].decode()
    elif event == 4:
        metadata, image = json.loads(payload[:word]), payload[word:]
    else:
        image = payload
    image_format = size = None
    if image is not None:
        with Image.open(io.BytesIO(image)) as decoded:
            image_format, size = decoded.format, list(decoded.size)
    return binary_signature(event, word, metadata, text, image_format, size)


def strip_noise(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: "..." if k in ("traceback", "current_inputs", "current_outputs") else strip_noise(v)
            for k, v in value.items()
            if k != "argv"
        }
    if isinstance(value, list):
        return [strip_noise(v) for v in value]
    return value


def shape(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    return "num" if isinstance(value, (int, float)) else type(value).__name__


# -- replay ------------------------------------------------------------------------------------


class Socket:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[str | bytes] = []
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                self.messages.append(message.data)

    async def wait_for(self, count: int, timeout: float = 5) -> None:
        for _ in range(int(timeout / 0.01)):
            if len(self.messages) >= count:
                return
            await asyncio.sleep(0.01)


def posted_graph(records: list[dict[str, Any]]) -> dict[str, Any]:
    return next(
        r["request_json"]["prompt"]
        for r in records
        if r["kind"] == "http" and r["path"] == "/prompt" and r["method"] == "POST"
    )


def warmup_graph(how: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    if (TRACES / f"{how}.jsonl").is_file():
        return posted_graph(load(how))
    graph = copy.deepcopy(posted_graph(records))
    for node in graph.values():
        if how == "reseed" and "seed" in node["inputs"]:
            node["inputs"]["seed"] += 1000
        if how == "resize" and node["class_type"] == "EmptyLatentImage":
            node["inputs"].update(width=64, height=64)
    return graph


async def run_to_end(session: aiohttp.ClientSession, url: str, graph: dict[str, Any]) -> None:
    async with session.ws_connect(f"{url}/ws?clientId=warmup") as ws:
        await session.post(f"{url}/prompt", json={"prompt": graph, "client_id": "warmup"})
        async for message in ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                data = json.loads(message.data)
                if data["type"] == "executing" and data["data"]["node"] is None:
                    return


def ws_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r["kind"] in ("ws_text", "ws_binary")]


def output_files(outputs: dict[str, Any]) -> list[str]:
    return [
        item["filename"]
        for node in outputs.values()
        for items in node.values()
        if isinstance(items, list)
        for item in items
        if isinstance(item, dict) and "filename" in item
    ]


async def replay_request(
    session: aiohttp.ClientSession, url: str, record: dict[str, Any], renamed: dict[str, str]
) -> None:
    """Send one recorded request; `renamed` maps recorded prompt ids and file names to the fake's."""
    path = record["path"]
    for old, new in renamed.items():
        path = path.replace(old, new)
    kwargs: dict[str, Any] = {}
    if "request_json" in record:
        body = json.dumps(record["request_json"])
        for old, new in renamed.items():
            body = body.replace(json.dumps(old), json.dumps(new))
        kwargs["json"] = json.loads(body)
    elif "request_raw" in record:
        kwargs["data"], kwargs["headers"] = record["request_raw"], {
            "Content-Type": "application/json"
        }
    elif "request_form" in record:
        form = aiohttp.FormData()
        for key, value in record["request_form"].items():
            if key == "image":
                form.add_field(
                    "image", png(80, 60), filename=value.split(" ")[0], content_type="image/png"
                )
            else:
                form.add_field(key, value)
        kwargs["data"] = form
    if record.get("status") == 403:
        kwargs["headers"] = {"Origin": "http://somewhere-else.example"}
    async with session.request(record.get("method", "GET"), url + path, **kwargs) as response:
        raw = await response.read()
        where = f"{record.get('method', 'GET')} {record['path']}"
        assert response.status == record["status"], where
        if record["kind"] == "view":
            assert response.content_type == record["headers"]["Content-Type"], where
            with Image.open(io.BytesIO(raw)) as image:
                assert [image.format, list(image.size)] == [
                    record["image_format"],
                    record["image_size"],
                ], where
            return
        expected = record.get("response")
        if isinstance(expected, str) and expected.startswith("<"):
            return  # body not recorded
        if isinstance(expected, str):
            assert raw.decode() == expected, where
            return
        if expected is None:
            return
        actual = json.loads(raw)
        posted_prompt = (
            path.startswith("/prompt") and record["method"] == "POST" and response.status == 200
        )
        if posted_prompt:
            renamed[expected["prompt_id"]] = actual["prompt_id"]
        if path.startswith(("/history", "/api/history")):  # keyed by prompt ids
            actual, expected = list(actual.values()), list(expected.values())
        if path.startswith(SHAPE_ONLY) or posted_prompt:
            assert shape(strip_noise(actual)) == shape(strip_noise(expected)), where
            if path.startswith(("/history/", "/api/history/")) and expected:
                entry, recorded = actual[0], expected[0]
                assert entry["status"]["status_str"] == recorded["status"]["status_str"], where
                assert normalise_output(entry["outputs"]) == normalise_output(
                    recorded["outputs"]
                ), where
                renamed.update(
                    zip(output_files(recorded["outputs"]), output_files(entry["outputs"]))
                )
        else:
            assert strip_noise(actual) == strip_noise(expected), where


def compare(
    name: str, expected: list[list[Any]], received: list[list[Any]], interleaved: bool
) -> None:
    if not interleaved:

        def split(signatures: list[list[Any]]) -> tuple[list[Any], list[Any]]:
            return (
                [s for s in signatures if s[0] == "status"],
                [s for s in signatures if s[0] != "status"],
            )

        expected_parts, received_parts = split(expected), split(received)
        assert received_parts[0] == expected_parts[0], f"{name}: status messages differ"
        assert received_parts[1] == expected_parts[1], f"{name}: execution messages differ"
        return
    assert len(received) == len(expected) and received == expected, name


@pytest.mark.skipif(
    not TRACES.is_dir(), reason="the recorded traces are not next to the repository"
)
@pytest.mark.parametrize("name", trace_names())
async def test_the_fake_replays_the_recorded_trace(name: str, tmp_path: Path) -> None:
    records = load(name)
    config = dict(CONFIG.get(name, {}))
    warmup, interleaved = config.pop("warmup", None), config.pop("interleaved", True)
    fake = FakeComfyUI(tmp_path / "comfyui")
    prepare_root(fake.root_dir)
    await fake.start()
    try:
        async with aiohttp.ClientSession() as session:
            if warmup:
                await run_to_end(session, fake.url, warmup_graph(warmup, records))
            for knob, value in config.items():
                setattr(fake, knob, value)
            observer_records = load(OBSERVERS[name]) if name in OBSERVERS else None
            sockets = []
            for trace in [records] + ([observer_records] if observer_records else []):
                opened = next(r for r in trace if r["kind"] == "ws_open")
                ws = await session.ws_connect(
                    opened["ws_url"]
                    .replace("ws://127.0.0.1:8188", fake.url)
                    .replace("ws://127.0.0.1:8189", fake.url)
                )
                for sent in (r for r in trace if r["kind"] == "ws_sent"):
                    await ws.send_str(json.dumps(sent["msg"]))
                sockets.append(Socket(ws))
            primary = sockets[0]
            renamed: dict[str, str] = {}
            for index, record in enumerate(records):
                if record["kind"] not in ("http", "view") or record["path"].startswith(
                    NOT_REPLAYED
                ):
                    continue
                if record["path"] in ("/", "/object_info") and record["status"] == 200:
                    continue
                await primary.wait_for(len(ws_records(records[:index])))
                await replay_request(session, fake.url, record, renamed)
            for socket, trace in zip(
                sockets, [records] + ([observer_records] if observer_records else [])
            ):
                await socket.wait_for(len(ws_records(trace)))
            await asyncio.sleep(0.1)  # anything extra would show up now
            for socket, trace in zip(
                sockets, [records] + ([observer_records] if observer_records else [])
            ):
                compare(
                    name,
                    [recorded_signature(r) for r in ws_records(trace)],
                    [received_signature(m) for m in socket.messages],
                    interleaved,
                )
                await socket.ws.close()
    finally:
        await fake.stop()
