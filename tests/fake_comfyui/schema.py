"""Node schemas of ComfyUI v0.8.0 and its `POST /prompt` validation, as the fake needs them.

The schemas are the recorded `GET /object_info` (gzipped next to this file). Validation
follows ComfyUI's `execution.validate_prompt`: same error types, messages and response
shapes. File-name inputs of loaders are checked against the fake's root dir instead of the
file lists that were recorded, so tests can see whether the router linked its files in.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

OBJECT_INFO_PATH = Path(__file__).with_name("object_info.json.gz")

# ComfyUI's folder_paths: which directories under the base dir hold each model folder.
MODEL_DIRS: dict[str, tuple[str, ...]] = {
    "checkpoints": ("models/checkpoints",),
    "vae": ("models/vae",),
    "loras": ("models/loras",),
    "controlnet": ("models/controlnet", "models/t2i_adapter"),
    "diffusion_models": ("models/unet", "models/diffusion_models"),
    "text_encoders": ("models/text_encoders", "models/clip"),
    "clip_vision": ("models/clip_vision",),
    "style_models": ("models/style_models",),
    "gligen": ("models/gligen",),
    "upscale_models": ("models/upscale_models",),
    "hypernetworks": ("models/hypernetworks",),
    "photomaker": ("models/photomaker",),
    "latent_upscale_models": ("models/latent_upscale_models",),
    "model_patches": ("models/model_patches",),
    "embeddings": ("models/embeddings",),
}

# (class_type, input name) -> model folder, for every file-name combo in object_info.
FILE_INPUTS: dict[tuple[str, str], str] = {
    **{
        (c, "ckpt_name"): "checkpoints"
        for c in (
            "CheckpointLoaderSimple",
            "CheckpointLoader",
            "unCLIPCheckpointLoader",
            "ImageOnlyCheckpointLoader",
            "CreateHookModelAsLora",
            "CreateHookModelAsLoraModelOnly",
        )
    },
    ("VAELoader", "vae_name"): "vae",
    **{
        (c, "lora_name"): "loras"
        for c in ("LoraLoader", "LoraLoaderModelOnly", "CreateHookLora", "CreateHookLoraModelOnly")
    },
    ("ControlNetLoader", "control_net_name"): "controlnet",
    ("DiffControlNetLoader", "control_net_name"): "controlnet",
    ("UNETLoader", "unet_name"): "diffusion_models",
    ("CLIPLoader", "clip_name"): "text_encoders",
    **{("DualCLIPLoader", f"clip_name{i}"): "text_encoders" for i in (1, 2)},
    **{("TripleCLIPLoader", f"clip_name{i}"): "text_encoders" for i in (1, 2, 3)},
    **{("QuadrupleCLIPLoader", f"clip_name{i}"): "text_encoders" for i in (1, 2, 3, 4)},
    ("CLIPVisionLoader", "clip_name"): "clip_vision",
    ("StyleModelLoader", "style_model_name"): "style_models",
    ("GLIGENLoader", "gligen_name"): "gligen",
    ("UpscaleModelLoader", "model_name"): "upscale_models",
    ("HypernetworkLoader", "hypernetwork_name"): "hypernetworks",
    ("PhotoMakerLoader", "photomaker_model_name"): "photomaker",
    ("LatentUpscaleModelLoader", "model_name"): "latent_upscale_models",
    ("ModelPatchLoader", "name"): "model_patches",
}

# Nodes whose `image` input is checked by VALIDATE_INPUTS (a file in input/) instead of the combo.
IMAGE_INPUT_NODES = frozenset({"LoadImage", "LoadImageMask"})


class BadPromptBody(Exception):
    """The body makes ComfyUI's handler raise: aiohttp answers 500 text/plain."""


@dataclass
class Validation:
    ok: bool
    error: dict[str, Any] | None
    outputs: list[str]
    node_errors: dict[str, Any] = field(default_factory=dict)


@cache
def object_info() -> dict[str, Any]:
    with gzip.open(OBJECT_INFO_PATH, "rt", encoding="utf-8") as f:
        return json.load(f)


def is_output_node(class_type: str) -> bool:
    return bool(object_info().get(class_type, {}).get("output_node"))


def is_link(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


def model_files(root_dir: Path, folder: str) -> list[str]:
    """Files ComfyUI would list for a model folder (symlinks included), relative names."""
    names: set[str] = set()
    for rel in MODEL_DIRS.get(folder, (f"models/{folder}",)):
        base = root_dir / rel
        if base.is_dir():
            names.update(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())
    return sorted(names)


def input_file_exists(root_dir: Path, name: str) -> bool:
    name = name.removesuffix(" [input]")
    if name.startswith("/") or ".." in Path(name).parts:
        return False
    return (root_dir / "input" / name).is_file()


def _error(type_: str, message: str, details: str, extra_info: dict[str, Any]) -> dict[str, Any]:
    return {"type": type_, "message": message, "details": details, "extra_info": extra_info}


def _types_match(received: str, expected: Any) -> bool:
    if not isinstance(expected, str) or not isinstance(received, str):
        return True
    if "*" in (received, expected) or received == expected or expected.startswith("COMFY_"):
        return True
    return bool(set(received.split(",")) & set(expected.split(",")))


class _Validator:
    def __init__(self, prompt: dict[str, Any], root_dir: Path) -> None:
        self.prompt = prompt
        self.root_dir = root_dir
        self.validated: dict[str, tuple[bool, list[dict[str, Any]]]] = {}

    def combo_options(self, class_type: str, name: str, recorded: list[Any]) -> list[Any]:
        folder = FILE_INPUTS.get((class_type, name))
        if folder is None:
            return recorded
        # Keep the recorded non-file choices (e.g. VAELoader's "pixel_space").
        extras = [o for o in recorded if isinstance(o, str) and "." not in o]
        return model_files(self.root_dir, folder) + extras

    def validate(self, node_id: str) -> tuple[bool, list[dict[str, Any]]]:
        if node_id in self.validated:
            return self.validated[node_id]
        node = self.prompt[node_id]
        class_type = node["class_type"]
        spec = object_info()[class_type]
        inputs = node.get("inputs", {})
        errors: list[dict[str, Any]] = []
        valid = True
        sections = [
            ("required", spec["input"].get("required", {})),
            ("optional", spec["input"].get("optional", {})),
        ]
        for category, section in sections:
            for name, config in section.items():
                input_type = config[0]
                extra = config[1] if len(config) > 1 and isinstance(config[1], dict) else {}
                info = [input_type, extra]
                if name not in inputs:
                    if category == "required":
                        errors.append(
                            _error(
                                "required_input_missing",
                                "Required input is missing",
                                name,
                                {"input_name": name},
                            )
                        )
                    continue
                value = inputs[name]
                if isinstance(value, list):
                    if len(value) != 2:
                        errors.append(
                            _error(
                                "bad_linked_input",
                                "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                                name,
                                {"input_name": name, "input_config": info, "received_value": value},
                            )
                        )
                        continue
                    source_id = str(value[0])
                    source_class = self.prompt[source_id]["class_type"]  # KeyError as in ComfyUI
                    outputs = object_info().get(source_class, {}).get("output", [])
                    received = outputs[value[1]] if 0 <= value[1] < len(outputs) else "*"
                    if not _types_match(received, input_type):
                        errors.append(
                            _error(
                                "return_type_mismatch",
                                "Return type mismatch between linked nodes",
                                f"{name}, received_type({received}) mismatch input_type({input_type})",
                                {
                                    "input_name": name,
                                    "input_config": info,
                                    "received_type": received,
                                    "linked_node": value,
                                },
                            )
                        )
                        continue
                    if not self.validate(source_id)[0]:
                        valid = False
                    continue
                error = self.check_value(class_type, name, input_type, extra, info, value, inputs)
                if error is not None:
                    errors.append(error)
        result = (not errors and valid, errors)
        self.validated[node_id] = result
        return result

    def check_value(
        self,
        class_type: str,
        name: str,
        input_type: Any,
        extra: dict[str, Any],
        info: list[Any],
        value: Any,
        inputs: dict[str, Any],
    ) -> dict[str, Any] | None:
        try:
            if input_type == "INT":
                value = int(value)
            elif input_type == "FLOAT":
                value = float(value)
            elif input_type == "STRING":
                value = str(value)
            elif input_type == "BOOLEAN":
                value = bool(value)
        except (TypeError, ValueError) as exc:
            return _error(
                "invalid_input_type",
                f"Failed to convert an input value to a {input_type} value",
                f"{name}, {value}, {exc}",
                {
                    "input_name": name,
                    "input_config": info,
                    "received_value": value,
                    "exception_message": str(exc),
                },
            )
        inputs[name] = value
        if class_type in IMAGE_INPUT_NODES and name == "image":
            if input_file_exists(self.root_dir, str(value)):
                return None
            return _error(
                "custom_validation_failed",
                "Custom validation failed for node",
                f"{name} - Invalid image file: {value}",
                {"input_name": name},
            )
        if "min" in extra and isinstance(value, (int, float)) and value < extra["min"]:
            return _error(
                "value_smaller_than_min",
                f"Value {value} smaller than min of {extra['min']}",
                name,
                {"input_name": name, "input_config": info, "received_value": value},
            )
        if "max" in extra and isinstance(value, (int, float)) and value > extra["max"]:
            return _error(
                "value_bigger_than_max",
                f"Value {value} bigger than max of {extra['max']}",
                name,
                {"input_name": name, "input_config": info, "received_value": value},
            )
        recorded = (
            input_type
            if isinstance(input_type, list)
            else (extra.get("options") if input_type == "COMBO" else None)
        )
        if recorded is None:
            return None
        options = self.combo_options(class_type, name, recorded)
        if value in options:
            return None
        config: list[Any] | None = [options, extra]
        if len(options) > 20:
            listing, config = f"(list of length {len(options)})", None
        else:
            listing = str(options)
        return _error(
            "value_not_in_list",
            "Value not in list",
            f"{name}: '{value}' not in {listing}",
            {"input_name": name, "input_config": config, "received_value": value},
        )


def validate_prompt(
    prompt: Any, root_dir: Path, missing_classes: frozenset[str] = frozenset()
) -> Validation:
    """Validate an API-format graph the way ComfyUI's `validate_prompt` does, on a node that
    lacks `missing_classes`."""
    if not isinstance(prompt, dict):
        raise BadPromptBody("prompt is not an object")
    outputs: list[str] = []
    for node_id, node in prompt.items():
        if not isinstance(node, (dict, list, str)):
            raise BadPromptBody(f"argument of type {type(node).__name__!r} is not iterable")
        if "class_type" not in node:
            return Validation(
                False,
                _error(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{node_id}'",
                    {},
                ),
                [],
                {},
            )
        class_type = node["class_type"] if isinstance(node, dict) else None
        if class_type not in object_info() or class_type in missing_classes:
            return Validation(
                False,
                _error(
                    "invalid_prompt",
                    f"Cannot execute because node {class_type} does not exist.",
                    f"Node ID '#{node_id}'",
                    {},
                ),
                [],
                {},
            )
        if is_output_node(class_type):
            outputs.append(node_id)
    if not outputs:
        return Validation(
            False, _error("prompt_no_outputs", "Prompt has no outputs", "", {}), [], {}
        )

    validator = _Validator(prompt, root_dir)
    good: list[str] = []
    failures: list[tuple[str, list[dict[str, Any]]]] = []
    node_errors: dict[str, Any] = {}
    for output in outputs:
        try:
            valid, reasons = validator.validate(output)
        except Exception as exc:  # ComfyUI reports any exception as a validation failure
            valid = False
            reasons = [
                _error(
                    "exception_during_validation",
                    "Exception when validating node",
                    str(exc),
                    {
                        "exception_type": type(exc).__name__,
                        "traceback": ['  File "execution.py", in validate_prompt\n'],
                    },
                )
            ]
            validator.validated[output] = (False, reasons)
        if valid:
            good.append(output)
            continue
        if reasons:
            failures.append((output, reasons))
        for node_id, (node_valid, node_reasons) in validator.validated.items():
            if node_valid or not node_reasons:
                continue
            entry = node_errors.setdefault(
                node_id,
                {
                    "errors": node_reasons,
                    "dependent_outputs": [],
                    "class_type": prompt[node_id]["class_type"],
                },
            )
            entry["dependent_outputs"].append(output)
    if not good:
        details = "\n".join(f"{e['message']}: {e['details']}" for _, errs in failures for e in errs)
        return Validation(
            False,
            _error(
                "prompt_outputs_failed_validation", "Prompt outputs failed validation", details, {}
            ),
            [],
            node_errors,
        )
    return Validation(True, None, good, node_errors)
