"""Checks of one input of an API-format graph against its node's schema, by ComfyUI's rules
(`validate_prompt`): a link must point at an existing node and output whose type fits the input
(`*` fits anything), a combo value must be in its list (file-name combos accept any name), a
number within min/max. Stricter than ComfyUI about literal types (an INT gets an integer, not
"12").
"""

from __future__ import annotations

import math
from typing import Any

from workflows.graphs.object_info import (
    WILDCARD_TYPES,
    combo_values,
    output_types,
    spec_options,
    spec_type,
)

PRIMITIVE_TYPES = frozenset({"INT", "FLOAT", "STRING", "BOOLEAN", "COMBO"})
_UPLOAD_FLAGS = ("image_upload", "video_upload", "audio_upload", "file_upload")


def types_match(received: str, expected: str) -> bool:
    """ComfyUI's rule: equal, either side a wildcard, or comma-separated unions that overlap."""
    if received == expected:
        return True
    received_set = {t.strip() for t in received.split(",")}
    expected_set = {t.strip() for t in expected.split(",")}
    if received_set & WILDCARD_TYPES or expected_set & WILDCARD_TYPES:
        return True
    return not received_set.isdisjoint(expected_set)


def link_error(
    graph: dict[str, Any], value: list[Any], expected: str, object_info: dict[str, Any]
) -> str | None:
    """Why a link `[node_id, output_index]` is broken, or None. Outputs of unknown classes are trusted."""
    if len(value) != 2:
        return "must be a link [node_id, output_index]"
    source_id, index = value
    if not isinstance(source_id, str) or isinstance(index, bool) or not isinstance(index, int):
        return "must be a link [node_id (a string), output_index (an integer)]"
    source = graph.get(source_id)
    if not isinstance(source, dict):
        return f"links to node {source_id!r}, which is not in the graph"
    outputs = output_types(str(source.get("class_type")), object_info)
    if outputs is None:
        return None
    if not 0 <= index < len(outputs):
        return f"links to output {index} of node {source_id!r}, which has {len(outputs)} outputs"
    if not types_match(outputs[index], expected):
        return f"expects {expected} but node {source_id!r} output {index} is {outputs[index]}"
    return None


def is_file_combo(spec: list[Any]) -> bool:
    options = spec_options(spec)
    return any(options.get(flag) for flag in _UPLOAD_FLAGS) or "remote" in options


def input_error(
    graph: dict[str, Any], spec: list[Any], value: Any, object_info: dict[str, Any], *, is_file: bool = False
) -> str | None:
    """Why `value` does not fit the input described by `spec` (`[type, options]`), or None."""
    expected = spec_type(spec)
    if isinstance(value, list):  # ComfyUI takes every list as a link
        return link_error(graph, value, expected, object_info)
    if expected in WILDCARD_TYPES:
        return None
    if expected not in PRIMITIVE_TYPES:
        return f"of type {expected} must be linked from another node's output"
    if expected == "COMBO":
        return _combo_error(spec, value, is_file=is_file)
    if expected == "STRING":
        return None if isinstance(value, str) else "must be a string"
    if expected == "BOOLEAN":
        return None if isinstance(value, bool) else "must be true or false"
    return number_error(spec, value)


def _combo_error(spec: list[Any], value: Any, *, is_file: bool) -> str | None:
    values = combo_values(spec)
    if is_file or values is None or is_file_combo(spec):
        return None if isinstance(value, str) and value else "must be a file name"
    if value not in values:
        return f"value {value!r} is not one of {values}"
    return None


def number_error(spec: list[Any], value: Any) -> str | None:
    """Type and min/max of an INT or FLOAT literal, with ComfyUI's messages for the bounds."""
    expected = spec_type(spec)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number ({expected})"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if expected == "INT" and isinstance(value, float) and not value.is_integer():
        return "must be an integer"
    options = spec_options(spec)
    low, high = options.get("min"), options.get("max")
    if low is not None and value < low:
        return f"value {value} is smaller than min of {low}"
    if high is not None and value > high:
        return f"value {value} is bigger than max of {high}"
    return None
