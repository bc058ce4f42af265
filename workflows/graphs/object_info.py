"""The node schemas of ComfyUI v0.8.0 (`GET /object_info`), shipped with the project.

Parameter limits, combo lists and graph validation all read from here, so a newer ComfyUI is
one file to replace: `workflows/graphs/data/object_info.json`.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

OBJECT_INFO_PATH = Path(__file__).resolve().parent / "data" / "object_info.json"

# Input types of ComfyUI's V3 node schema that accept whatever is linked to them.
WILDCARD_TYPES = frozenset({"*", "COMFY_MATCHTYPE_V3", "COMFY_AUTOGROW_V3", "COMFY_DYNAMICCOMBO_V3"})


@cache
def object_info() -> dict[str, Any]:
    with OBJECT_INFO_PATH.open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


def input_spec(class_type: str, name: str, info: dict[str, Any] | None = None) -> list[Any] | None:
    """`[type, options]` of a required or optional input, or None if the class or input is unknown."""
    node = (info if info is not None else object_info()).get(class_type)
    if node is None:
        return None
    inputs = node.get("input", {})
    for section in ("required", "optional"):
        spec = (inputs.get(section) or {}).get(name)
        if spec is not None:
            return list(spec)
    return None


def spec_options(spec: list[Any]) -> dict[str, Any]:
    return spec[1] if len(spec) > 1 and isinstance(spec[1], dict) else {}


def spec_type(spec: list[Any]) -> str:
    """The input's type name; combo inputs (a list of values) are `COMBO`."""
    kind = spec[0]
    return "COMBO" if isinstance(kind, list) else str(kind)


def combo_values(spec: list[Any]) -> list[Any] | None:
    """The allowed values of a combo input, or None when the input is not a static combo."""
    if isinstance(spec[0], list):
        return list(spec[0])
    if spec[0] == "COMBO" and "options" in spec_options(spec):
        return list(spec_options(spec)["options"])
    return None


def combo(class_type: str, name: str) -> list[Any]:
    spec = input_spec(class_type, name)
    values = combo_values(spec) if spec else None
    if values is None:
        raise KeyError(f"{class_type}.{name} is not a combo input")
    return values


def number_limits(class_type: str, name: str) -> tuple[float | int | None, float | int | None]:
    """(min, max) of a numeric input as ComfyUI declares them."""
    spec = input_spec(class_type, name)
    if spec is None:
        raise KeyError(f"{class_type}.{name} is not a known input")
    options = spec_options(spec)
    return options.get("min"), options.get("max")


def output_types(class_type: str, info: dict[str, Any] | None = None) -> list[str] | None:
    node = (info if info is not None else object_info()).get(class_type)
    if node is None:
        return None
    return ["COMBO" if isinstance(t, list) else str(t) for t in node.get("output", [])]
