"""`ComfyUI` workflows: the user's own graph, with URLs and inline images turned into local files.

String inputs of core loaders that are http(s) URLs become the cached file's name in the
loader's folder; `{"type": "url" | "base64", "content"}` images of LoadImage / LoadImageMask
become files in `input/`. Everything else is passed through untouched.
"""

from __future__ import annotations

from typing import Any

from workflows.comfyui.classes import SAMPLER_CLASSES
from workflows.graphs.builders.base import BuildResult, FileCollector
from workflows.graphs.builders.file_inputs import (
    FILE_INPUT_FOLDERS,
    IMAGE_INPUTS,
    LORA_INPUTS,
    MAIN_MODEL_INPUTS,
)

_SEED_INPUTS = ("seed", "noise_seed")


def build_comfyui(params: dict[str, Any]) -> BuildResult:
    """Rewrite a checked graph (see workflows.graphs.comfyui_graph) into one the nodes can run as is.

    Only file inputs are rewritten, each replaced whole: a copy of each node and its inputs
    leaves the submitted graph as it was, with no deep copy of every value in it."""
    graph: dict[str, Any] = {
        node_id: {**node, "inputs": dict(node["inputs"])} for node_id, node in params["prompt"].items()
    }
    files = FileCollector()
    for node in graph.values():
        class_type, inputs = node["class_type"], node["inputs"]
        for name, value in inputs.items():
            folder = FILE_INPUT_FOLDERS.get((class_type, name))
            if folder is None:
                continue
            if isinstance(value, str) and value[:8].lower().startswith(("http://", "https://")):
                inputs[name] = files.url(value, folder)
            elif isinstance(value, dict) and (class_type, name) in IMAGE_INPUTS:
                inputs[name] = files.image(value, folder)

    samplers = [node_id for node_id, node in graph.items() if node["class_type"] in SAMPLER_CLASSES]
    sampler = samplers[0] if len(samplers) == 1 else None
    return BuildResult(
        graph=graph,
        sampler_node=sampler,
        output_node=None,
        files=tuple(files.files.values()),
        inline_files=tuple(files.inline_files.values()),
        seed=_seed(graph[sampler]) if sampler else None,
        main_model=_first_value(graph, MAIN_MODEL_INPUTS),
        loras=tuple(_values(graph, LORA_INPUTS)),
    )


def _seed(node: dict[str, Any]) -> int | None:
    for name in _SEED_INPUTS:
        value = node["inputs"].get(name)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _values(graph: dict[str, Any], inputs: tuple[tuple[str, str], ...]) -> list[str]:
    found = []
    for node in graph.values():
        for class_type, name in inputs:
            value = node["inputs"].get(name)
            if node["class_type"] == class_type and isinstance(value, str):
                found.append(value)
    return found


def _first_value(graph: dict[str, Any], inputs: tuple[tuple[str, str], ...]) -> str | None:
    values = _values(graph, inputs)
    return values[0] if values else None
