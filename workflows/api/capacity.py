"""A submission that no registered node could run is refused at once, naming what is missing,
rather than left to fail on a node or to wait for ever. Only what the nodes have said counts: a
node that has not said what it has may have anything, and an empty pool accepts (the task
waits for a node, as any task does)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from rest_framework import serializers

from workflows.graphs.builders.file_inputs import (
    CHECKPOINTS,
    CLIP,
    CONTROLNET,
    LORAS,
    UNET,
    VAE,
)
from workflows.graphs.requirements import Need, comfyui_folder, graph_needs
from workflows.scheduling.capabilities import Shortfall, profiles, shortfall
from workflows.tasks.services import Submission

# How long a copy of the pool's profile is trusted to accept a submission: a node's new model
# may wait that long to count; a refusal always looks at the pool as it is.
TRUSTED_FOR = 1.0

# Where the predefined workflows name a file already on the nodes (`{"type": "build_in"}`).
MODEL_PARAMS = {
    "checkpoint": CHECKPOINTS,
    "unet": UNET,
    "vae": VAE,
    "clip": CLIP,
    "t5xxl": CLIP,
}


def refuse_what_no_node_can_run(submission: Submission) -> None:
    """Raises a ValidationError naming, field by field, what no registered node has."""
    if shortfall(submission.needs, profiles.current(max_age=TRUSTED_FOR)) is None:
        return
    missing = shortfall(submission.needs, profiles.current())
    if missing is not None:
        raise serializers.ValidationError(_errors(submission, missing))


def _errors(submission: Submission, missing: Shortfall) -> dict[str, list[str]]:
    if missing.labels:
        names = ", ".join(sorted(missing.labels))
        return {"node_labels": [f"no node has the labels {names}"]}
    if missing.apart:
        wanted = [f"the node class {c!r}" for c in sorted(missing.classes)]
        wanted += sorted(missing.models)
        return {"params": [f"no node has all of: {', '.join(wanted)}"]}
    errors: dict[str, list[str]] = {}
    for need in graph_needs(submission.build.graph, submission.build.files):
        if need.value in (missing.classes if need.kind == "class" else missing.models):
            for field in _fields(submission, need):
                message = need.describe()
                if message not in errors.setdefault(field, []):
                    errors[field].append(message)
    return errors


def _fields(submission: Submission, need: Need) -> Iterator[str]:
    """The fields of the submission that ask for `need`."""
    if submission.type == "ComfyUI":
        if need.kind == "class":
            yield f"params.prompt.{need.node_id}.class_type"
        else:
            yield f"params.prompt.{need.node_id}.inputs.{need.input}"
        return
    found = False
    for path, folder, value in _named_files(submission.params):
        if need.kind == "model" and f"{comfyui_folder(folder)}/{value}" == need.value:
            found = True
            yield f"params.{path}"
    for index, controlnet in enumerate(submission.params.get("controlnets") or []):
        if need.kind == "class" and controlnet.get("preprocessor") == need.value:
            found = True
            yield f"params.controlnets[{index}].preprocessor"
    if not found:
        yield "type"  # a node class every graph of this type uses


def _named_files(params: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(path, folder, file name) of every build_in model the params name."""

    def built_in(model: Any) -> str | None:
        if isinstance(model, dict) and model.get("type") == "build_in":
            return str(model.get("name"))
        return None

    for name, folder in MODEL_PARAMS.items():
        value = built_in(params.get(name))
        if value:
            yield name, folder, value
    for key, folder in (("loras", LORAS), ("controlnets", CONTROLNET)):
        for index, item in enumerate(params.get(key) or []):
            value = built_in(item.get("model") if isinstance(item, dict) else None)
            if value:
                yield f"{key}[{index}].model", folder, value
