"""The fake's prompt queue and executor: one prompt at a time, emitting ComfyUI's messages.

Message order and routing follow ComfyUI v0.8.0 (`main.prompt_worker`, `execution.py`,
`comfy_execution/progress.py`) as recorded in the traces.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PIL import Image

from . import graph as g
from . import outputs
from .images import (
    FORMAT_JPEG,
    FORMAT_PNG,
    jpeg_bytes,
    png_bytes,
    preview_frame,
    preview_with_metadata_frame,
    solid_color,
    text_frame,
)
from .log import PromptRecord

if TYPE_CHECKING:
    from .server import FakeComfyUI

PREVIEW_METHODS = frozenset({"auto", "latent2rgb", "taesd"})


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class QueueItem:
    number: float
    prompt_id: str
    graph: dict[str, Any]
    extra_data: dict[str, Any]
    outputs: list[str]
    record: PromptRecord

    def as_list(self) -> list[Any]:
        return [self.number, self.prompt_id, self.graph, self.extra_data, self.outputs]


class PromptQueue:
    def __init__(self) -> None:
        self._heap: list[tuple[float, int, QueueItem]] = []
        self._seq = itertools.count()
        self._ready = asyncio.Event()
        self.running: QueueItem | None = None

    @property
    def remaining(self) -> int:
        return len(self._heap) + (1 if self.running else 0)

    @property
    def pending(self) -> list[QueueItem]:
        return [entry[2] for entry in sorted(self._heap)]

    def put(self, item: QueueItem) -> None:
        heapq.heappush(self._heap, (item.number, next(self._seq), item))
        self._ready.set()

    async def get(self) -> QueueItem:
        while not self._heap:
            self._ready.clear()
            await self._ready.wait()
        self.running = heapq.heappop(self._heap)[2]
        return self.running

    def delete(self, prompt_ids: set[str]) -> list[QueueItem]:
        removed = [entry[2] for entry in self._heap if entry[2].prompt_id in prompt_ids]
        self._heap = [entry for entry in self._heap if entry[2].prompt_id not in prompt_ids]
        heapq.heapify(self._heap)
        return removed

    def clear(self) -> list[QueueItem]:
        removed = [entry[2] for entry in self._heap]
        self._heap = []
        return removed


class Interrupted(Exception):
    def __init__(self, node_id: str) -> None:
        self.node_id = node_id


class NodeFailed(Exception):
    def __init__(self, node_id: str, exception_type: str, message: str) -> None:
        self.node_id, self.exception_type, self.message = node_id, exception_type, message


END_MESSAGES = ("execution_success", "execution_error", "execution_interrupted")


class Executor:
    def __init__(self, server: FakeComfyUI) -> None:
        self.server = server
        self.queue = PromptQueue()
        self.history: dict[str, dict[str, Any]] = {}
        self.cache: dict[str, Any] = {}
        self.loaded_model: str | None = None
        self.interrupted = asyncio.Event()
        self.client_id: str | None = None
        self.last_node_id: str | None = None
        self.item: QueueItem | None = None
        self.progress: dict[str, dict[str, Any]] = {}
        # When the running prompt's work done so far is due to end, on its own clock (see `work`).
        self.due = 0.0

    async def run(self) -> None:
        while True:
            item = await self.queue.get()
            await self.server.broadcast_status()
            try:
                await self.execute(item)
            finally:
                self.queue.running = None

    # -- one prompt ------------------------------------------------------------------------

    async def execute(self, item: QueueItem) -> None:
        self.item, self.client_id, self.progress = item, item.extra_data.get("client_id"), {}
        self.interrupted.clear()
        item.record.started = self.due = time.monotonic()
        messages: list[list[Any]] = []
        graph, prompt_id = item.graph, item.prompt_id

        async def add_message(event: str, data: dict[str, Any], broadcast: bool = False) -> None:
            data = {**data, "timestamp": now_ms()}
            messages.append([event, data])
            if event in END_MESSAGES:
                self.server.log.prompt_ending(item.record)
            if self.client_id is not None or broadcast:
                await self.server.send_json(event, data, None if broadcast else self.client_id)

        signatures = g.signatures(graph, self.server.root_dir)
        self.cache = {sig: ui for sig, ui in self.cache.items() if sig in set(signatures.values())}
        cached = [node_id for node_id in graph if signatures[node_id] in self.cache]
        item.record.cached = cached
        await add_message("execution_start", {"prompt_id": prompt_id})
        await add_message("execution_cached", {"nodes": cached, "prompt_id": prompt_id})
        executed: list[str] = []
        ui_outputs: dict[str, Any] = {}
        try:
            for node_id in g.execution_order(graph, item.outputs, set(cached)):
                if node_id in cached:
                    ui = self.cache[signatures[node_id]]
                    if self.client_id is not None:
                        await self.server.send_json(
                            "executed",
                            {
                                "node": node_id,
                                "display_node": node_id,
                                "output": ui,
                                "prompt_id": prompt_id,
                            },
                            self.client_id,
                        )
                    await self.progress_finish(node_id)
                else:
                    ui = await self.run_node(node_id)
                    executed.append(node_id)
                    self.cache[signatures[node_id]] = ui
                if ui is not None:
                    ui_outputs[node_id] = ui
        except Interrupted as exc:
            await add_message(
                "execution_interrupted",
                {
                    "prompt_id": prompt_id,
                    "node_id": exc.node_id,
                    "node_type": graph[exc.node_id]["class_type"],
                    "executed": executed,
                },
                broadcast=True,
            )
            outcome = "interrupted"
        except NodeFailed as exc:
            node = graph[exc.node_id]
            await add_message(
                "execution_error",
                {
                    "prompt_id": prompt_id,
                    "node_id": exc.node_id,
                    "node_type": node["class_type"],
                    "executed": executed,
                    "exception_message": exc.message,
                    "exception_type": exc.exception_type,
                    "traceback": [
                        '  File "execution.py", line 518, in execute\n',
                        f'  File "nodes.py", in {node["class_type"]}\n',
                    ],
                    "current_inputs": {
                        k: [str(v)] for k, v in node.get("inputs", {}).items() if not g.is_link(v)
                    },
                    "current_outputs": list(dict.fromkeys(cached + executed)),
                },
            )
            outcome = "error"
        else:
            await add_message("execution_success", {"prompt_id": prompt_id})
            outcome = "success"
        self.history[prompt_id] = {
            "prompt": item.as_list(),
            "outputs": ui_outputs,
            "status": {
                "status_str": "success" if outcome == "success" else "error",
                "completed": outcome == "success",
                "messages": messages,
            },
            "meta": {
                n: {"node_id": n, "display_node": n, "parent_node": None, "real_node_id": n}
                for n in ui_outputs
            },
        }
        self.queue.running = None
        self.server.log.prompt_left(item.record, outcome, time.monotonic())
        await self.server.broadcast_status()
        if self.client_id is not None:
            await self.server.send_json(
                "executing", {"node": None, "prompt_id": prompt_id}, self.client_id
            )
        self.item = self.client_id = self.last_node_id = None

    def interrupt(self, prompt_id: str | None) -> None:
        if self.item is not None and prompt_id in (None, self.item.prompt_id):
            self.interrupted.set()

    # -- one node --------------------------------------------------------------------------

    async def run_node(self, node_id: str) -> dict[str, Any] | None:
        assert self.item is not None
        server, graph, prompt_id = self.server, self.item.graph, self.item.prompt_id
        class_type = graph[node_id]["class_type"]
        await self.progress_start(node_id)
        if self.client_id is not None:
            self.last_node_id = node_id
            await server.send_json(
                "executing",
                {"node": node_id, "display_node": node_id, "prompt_id": prompt_id},
                self.client_id,
            )
        if self.interrupted.is_set():
            raise Interrupted(node_id)
        loader_input = g.MODEL_LOADER_INPUTS.get(class_type)
        if loader_input is not None:
            model = str(graph[node_id]["inputs"].get(loader_input))
            if model != self.loaded_model:
                await self.work(server.load_time)
                self.loaded_model = model
        await self.work(server.node_delay)
        if server.fail_at_node is not None and server.fail_at_node in (node_id, class_type):
            raise NodeFailed(
                node_id,
                server.fail_exception_type,
                server.fail_message or f"Fake failure in {class_type} (node {node_id})\n",
            )
        if class_type in ("LoadImage", "LoadImageMask"):
            self.check_image(node_id)
        if class_type in g.SAMPLER_CLASSES:
            await self.run_sampler(node_id)
        elif class_type == "SaveImageWebsocket":
            await self.send_websocket_images(node_id)
        elif class_type == "GetImageSize":
            source = graph[node_id]["inputs"].get("image")
            w, h, b = (
                g.image_shape(graph, source[0], server.root_dir)
                if g.is_link(source)
                else (64, 64, 1)
            )
            await server.send_frame(
                text_frame(node_id, f"width: {w}, height: {h}\n batch size: {b}"), None
            )
        ui = outputs.node_ui(graph, node_id, server.root_dir)
        if ui is not None and self.client_id is not None:
            await server.send_json(
                "executed",
                {"node": node_id, "display_node": node_id, "output": ui, "prompt_id": prompt_id},
                self.client_id,
            )
        await self.progress_finish(node_id)
        return ui

    def due_in(self, seconds: float) -> float:
        """Add `seconds` of work to the running prompt; how long from now until it is done.

        A prompt's work keeps to its own clock, from its start: a job of two 100 ms nodes lasts
        200 ms, as on a GPU, however long the fake takes over its messages and however late a
        busy test process wakes it. In ComfyUI those messages go out from the server's thread
        while the prompt runs; without this the fake's own time (2–4 ms a prompt with 20 fakes
        in one process) stretched every job, and the benches charged it to the router."""
        self.due += seconds
        return max(0.0, self.due - time.monotonic())

    async def work(self, seconds: float) -> None:
        await asyncio.sleep(self.due_in(seconds))

    def check_image(self, node_id: str) -> None:
        assert self.item is not None
        path = (
            self.server.root_dir
            / "input"
            / str(self.item.graph[node_id]["inputs"].get("image", ""))
        )
        try:
            with Image.open(path) as image:
                image.verify()
        except OSError:
            raise NodeFailed(
                node_id, "PIL.UnidentifiedImageError", f"cannot identify image file '{path}'\n"
            )

    async def run_sampler(self, node_id: str) -> None:
        assert self.item is not None
        steps = g.sampler_steps(self.item.graph, node_id)
        w, h, _ = g.image_shape(self.item.graph, node_id, self.server.root_dir)
        preview = None
        if self.previews_enabled():
            seed = sum(ord(c) for c in self.item.prompt_id)
            preview = jpeg_bytes(min(w, 512), min(h, 512), solid_color(None, seed))
        for step in range(1, steps + 1):
            try:
                await asyncio.wait_for(self.interrupted.wait(), self.due_in(self.server.step_delay))
            except asyncio.TimeoutError:
                pass
            if self.interrupted.is_set():
                raise Interrupted(node_id)
            await self.progress_update(node_id, step, steps, preview, FORMAT_JPEG)

    async def send_websocket_images(self, node_id: str) -> None:
        assert self.item is not None
        graph = self.item.graph
        source = graph[node_id]["inputs"].get("images")
        w, h, b = (
            g.image_shape(graph, source[0], self.server.root_dir)
            if g.is_link(source)
            else (64, 64, 1)
        )
        image = png_bytes(
            w, h, outputs.image_color(graph, source[0] if g.is_link(source) else node_id)
        )
        for index in range(b):
            await self.progress_update(node_id, index, b, image, FORMAT_PNG)

    def previews_enabled(self) -> bool:
        assert self.item is not None
        if self.server.previews is not None:
            return self.server.previews
        return self.item.extra_data.get("preview_method") in PREVIEW_METHODS

    # -- progress_state / progress / previews ----------------------------------------------

    def _entry(self, node_id: str, value: float, max_: float, state: str) -> dict[str, Any]:
        assert self.item is not None
        return {
            "value": value,
            "max": max_,
            "state": state,
            "node_id": node_id,
            "prompt_id": self.item.prompt_id,
            "display_node_id": node_id,
            "parent_node_id": None,
            "real_node_id": node_id,
        }

    async def send_progress_state(self) -> None:
        assert self.item is not None
        await self.server.send_json(
            "progress_state",
            {
                "prompt_id": self.item.prompt_id,
                "nodes": {n: dict(e) for n, e in self.progress.items()},
            },
            self.client_id,
        )

    async def progress_start(self, node_id: str) -> None:
        self.progress[node_id] = self._entry(node_id, 0.0, 1.0, "running")
        await self.send_progress_state()

    async def progress_finish(self, node_id: str) -> None:
        entry = self.progress.get(node_id) or self._entry(node_id, 1, 1, "finished")
        entry.update(state="finished", value=entry["max"])
        self.progress[node_id] = entry
        await self.send_progress_state()

    async def progress_update(
        self, node_id: str, value: int, max_: int, image: bytes | None, image_format: int
    ) -> None:
        assert self.item is not None
        self.progress[node_id] = self._entry(node_id, value, max_, "running")
        await self.send_progress_state()
        with_metadata = self.server.supports_preview_metadata(self.client_id)
        if image is not None and with_metadata:
            metadata = {
                "node_id": node_id,
                "prompt_id": self.item.prompt_id,
                "display_node_id": node_id,
                "parent_node_id": None,
                "real_node_id": node_id,
                "image_type": "image/png" if image_format == FORMAT_PNG else "image/jpeg",
            }
            await self.server.send_frame(
                preview_with_metadata_frame(metadata, image), self.client_id
            )
        await self.server.send_json(
            "progress",
            {"value": value, "max": max_, "prompt_id": self.item.prompt_id, "node": node_id},
            self.client_id,
        )
        if image is not None and not with_metadata:
            await self.server.send_frame(preview_frame(image_format, image), self.client_id)
