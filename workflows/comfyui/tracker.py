"""Following one ComfyUI prompt (part of the ComfyUI protocol, see comfyui_client).

`PromptTracker` folds the decoded events of one prompt into progress over the whole graph,
the latest preview, the outputs (SaveImageWebsocket frames and files to fetch from /view)
and the final state; `apply_history` settles it from `/history/{prompt_id}` instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from workflows.comfyui.classes import SAMPLER_CLASSES, WEBSOCKET_OUTPUT_CLASSES
from workflows.comfyui.events import (
    Event,
    Executed,
    Executing,
    ExecutionCached,
    ExecutionError,
    ExecutionInterrupted,
    ExecutionStart,
    ExecutionSuccess,
    PreviewImage,
    Progress,
    ProgressState,
    decode_event,
)

OUTPUT_KINDS = ("images", "gifs", "videos", "video", "audio", "files")

# The largest preview kept: a larger one is dropped and the one before stays. ComfyUI's own are
# a few tens of KiB (at most 512 px a side); the router stores the latest and anyone holding the
# task's id may poll it, so a node sending huge ones must not make every poll costly.
MAX_PREVIEW_BYTES = 2 * 1024 * 1024


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
    candidates = [inputs] + [
        graph.get(v[0], {}).get("inputs", {})
        for v in inputs.values()
        if isinstance(v, list) and len(v) == 2 and v[0] in graph
    ]
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

    def __init__(
        self, graph: dict[str, Any], prompt_id: str, output_node: str | None = None
    ) -> None:
        self.graph = graph
        self.prompt_id = prompt_id
        self.output_node = output_node
        self.weights = {
            node_id: (
                float(_sampler_steps(graph, node_id))
                if node.get("class_type") in SAMPLER_CLASSES
                else 1.0
            )
            for node_id, node in graph.items()
            if isinstance(node, dict)
        }
        self.total_weight = sum(self.weights.values()) or 1.0
        self.progress = 0.0
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
            return False
        if isinstance(event, ExecutionCached):
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
        self.current_node = event.node
        return self._update_progress()

    def _preview(self, event: PreviewImage) -> bool:
        node_id = event.node_id or self.current_node
        if node_id is None or self.finished:
            return False  # not during our prompt: someone else's broadcast frame
        if self.class_type(node_id) in WEBSOCKET_OUTPUT_CLASSES:
            if self.output_node is None or node_id == self.output_node:
                self.websocket_images.append(
                    WebsocketImage(node_id, event.data, event.image_format)
                )
                return True
            return False
        if len(event.data) > MAX_PREVIEW_BYTES:
            return False
        self.latest_preview = Preview(event.data, event.image_format, node_id)
        return True

    def _executed(self, node_id: str, output: dict[str, Any]) -> bool:
        self.executed[node_id] = output
        if self.output_node is not None and node_id != self.output_node:
            return False
        changed = False
        for kind in OUTPUT_KINDS:
            items = output.get(kind)
            for item in items if isinstance(items, list) else []:
                if not isinstance(item, dict) or "filename" not in item:
                    continue
                found = OutputFile(
                    node_id,
                    str(item["filename"]),
                    str(item.get("subfolder", "")),
                    str(item.get("type", "output")),
                    kind,
                )
                if found not in self.outputs:
                    self.outputs.append(found)
                    changed = True
        return changed

    def _update_progress(self) -> bool:
        done = sum(self.weights.get(n, 0.0) for n in self._done)
        partial = sum(
            self.weights.get(n, 0.0) * f for n, f in self._partial.items() if n not in self._done
        )
        value = min((done + partial) / self.total_weight, 1.0)
        if value > self.progress:
            self.progress = value
            return True
        return False

    def apply_history(self, entry: dict[str, Any]) -> None:
        """Settle the prompt from its `/history/{prompt_id}` entry (e.g. after losing the websocket)."""
        status = entry.get("status")
        status = status if isinstance(status, dict) else {}
        messages = status.get("messages")
        for message in messages if isinstance(messages, list) else []:
            if isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict):
                self.feed(
                    decode_event(str(message[0]), {"prompt_id": self.prompt_id, **message[1]})
                )
        outputs = entry.get("outputs")
        for node_id, output in (outputs if isinstance(outputs, dict) else {}).items():
            if isinstance(output, dict):
                self._executed(str(node_id), output)
        if self.state is None and status.get("status_str") == "success" and status.get("completed"):
            self.state, self.progress = "success", 1.0
        elif self.state is None and status.get("status_str") == "error":
            self.state = "error"
            self.error = ExecutionError(
                prompt_id=self.prompt_id,
                node_id=None,
                node_type=None,
                exception_type="",
                exception_message="ComfyUI reported an error",
            )
        self.ended = True
