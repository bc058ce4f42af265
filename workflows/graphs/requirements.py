"""What a graph needs of the node that runs it: node classes, and model files the router does not
fetch itself (a file given by URL is fetched into the cache and linked for every node)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from workflows.graphs.builders.base import FileToFetch
from workflows.graphs.builders.file_inputs import FILE_INPUT_FOLDERS

# Our folders under ComfyUI's root, by ComfyUI's name for them (its `/models` lists the names):
# `models/unet` and `models/clip` are the older homes of `diffusion_models` and `text_encoders`.
COMFYUI_FOLDER_NAMES = {"models/unet": "diffusion_models", "models/clip": "text_encoders"}


def comfyui_folder(folder: str) -> str | None:
    """ComfyUI's name for one of our model folders (`models/loras` → `loras`); None for others
    (`input`: what is there is shared by every node)."""
    if not folder.startswith("models/"):
        return None
    return COMFYUI_FOLDER_NAMES.get(folder, folder.removeprefix("models/"))


@dataclass(frozen=True)
class TaskNeeds:
    """What a task asks of its node (stored with it as `Task.requirements`)."""

    classes: frozenset[str] = frozenset()
    models: frozenset[str] = frozenset()  # `<ComfyUI folder>/<file name>`
    labels: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, stored: dict[str, Any] | None) -> TaskNeeds:
        stored = stored or {}
        return cls(
            frozenset(stored.get("classes", ())),
            frozenset(stored.get("models", ())),
            frozenset(stored.get("labels", ())),
        )

    def as_json(self) -> dict[str, list[str]]:
        return {
            "classes": sorted(self.classes),
            "models": sorted(self.models),
            "labels": sorted(self.labels),
        }


@dataclass(frozen=True)
class Need:
    """One thing a graph needs: a node class, or a model file as `<ComfyUI folder>/<name>`; with
    where in the graph it is asked for."""

    kind: Literal["class", "model"]
    value: str
    node_id: str
    input: str | None = None

    def describe(self) -> str:
        if self.kind == "class":
            return f"no node has the node class {self.value!r}"
        return f"no node has {self.value}"


def graph_needs(graph: Mapping[str, Any], fetched: Iterable[FileToFetch] = ()) -> list[Need]:
    """Every class and every model file the graph names, but those fetched by the router."""
    ours = {(file.folder, file.name) for file in fetched}
    needs = []
    for node_id, node in graph.items():
        class_type = node["class_type"]
        needs.append(Need("class", class_type, str(node_id)))
        for name, value in node.get("inputs", {}).items():
            folder = FILE_INPUT_FOLDERS.get((class_type, name))
            listed = comfyui_folder(folder) if folder else None
            if listed and isinstance(value, str) and value and (folder, value) not in ours:
                needs.append(Need("model", f"{listed}/{value}", str(node_id), name))
    return needs


def task_needs(needs: Iterable[Need], labels: Iterable[str] = ()) -> TaskNeeds:
    listed = list(needs)
    return TaskNeeds(
        classes=frozenset(n.value for n in listed if n.kind == "class"),
        models=frozenset(n.value for n in listed if n.kind == "model"),
        labels=frozenset(labels),
    )
