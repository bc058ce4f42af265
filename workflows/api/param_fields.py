"""Serializers for the pieces the predefined workflows share: Model, Image, LoRA and ControlNet."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from workflows.graphs import limits
from workflows.graphs.builders.images import (
    MAX_IMAGE_READS,
    MAX_PNG_COMPRESSED_CHUNKS,
    MAX_TIFF_VALUES,
    InvalidImage,
    decode_base64_image,
    strip_base64,
)
from workflows.graphs.builders.stages import (
    RESIZE_CROP_AND_RESIZE,
    RESIZE_MODES,
    preprocessor_ports,
)
from workflows.graphs.object_info import (
    combo_values,
    number_limits,
    object_info,
    spec_options,
    spec_type,
)
from workflows.graphs.urls import looks_like_url, url_error
from workflows.graphs.validation import input_error


def file_name_error(value: str) -> str | None:
    """Why `value` cannot name a file already on the node (`build_in`), or None."""
    if looks_like_url(value):
        return 'A URL must be given as {"type": "custom", "name": "<url>"}.'
    if value.startswith(("/", "\\")) or any(part == ".." for part in value.replace("\\", "/").split("/")):
        return "Give a file name inside the model folder."
    if any(ord(ch) < 32 for ch in value):
        return "A file name cannot contain control characters."
    return None


class StrictSerializer(serializers.Serializer):
    """Rejects keys it does not know, so a typo (`cfg` for `cfg_scale`) is an error, not a silent default."""

    def to_internal_value(self, data: Any) -> Any:
        unknown: dict[str, list[str]] = {}
        if isinstance(data, Mapping):
            unknown = {str(key): ["Unknown field."] for key in data if key not in self.fields}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class StrictFloatField(serializers.FloatField):
    """A FloatField that does not take `true` for 1.0."""

    def to_internal_value(self, data: Any) -> float:
        if isinstance(data, bool):
            self.fail("invalid")
        return float(super().to_internal_value(data))


@extend_schema_field(OpenApiTypes.STR)
class RawStringField(serializers.Field):
    """A string taken as is: base64 payloads are too large for CharField's per-character validators."""

    default_error_messages = {"invalid": "Not a valid string."}

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return data

    def to_representation(self, value: Any) -> str:
        return str(value)


def bounded_float(class_type: str, input_name: str, **kwargs: Any) -> StrictFloatField:
    low, high = number_limits(class_type, input_name)
    return StrictFloatField(min_value=low, max_value=high, **kwargs)


class ModelRefSerializer(StrictSerializer):
    """`{"type": "build_in", "name": "file.safetensors"}` or `{"type": "custom", "name": "https://…"}`."""

    type = serializers.ChoiceField(choices=["build_in", "custom"])
    name = serializers.CharField(
        max_length=limits.MAX_URL_LENGTH,
        help_text=f"build_in: a file name of at most {limits.MAX_FILE_NAME_LENGTH} characters; "
        f"custom: an http(s) URL of at most {limits.MAX_URL_LENGTH}.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == "custom":
            problem = url_error(attrs["name"])
        elif len(attrs["name"]) > limits.MAX_FILE_NAME_LENGTH:
            problem = f"Ensure this file name has at most {limits.MAX_FILE_NAME_LENGTH} characters."
        else:
            problem = file_name_error(attrs["name"])
        if problem:
            raise serializers.ValidationError({"name": [problem]})
        return attrs


class ImageSerializer(StrictSerializer):
    """`{"type": "url", "content": "https://…"}` or `{"type": "base64", "content": "<base64 / data: URI>"}`."""

    type = serializers.ChoiceField(choices=["url", "base64"])
    content = RawStringField(
        help_text=f"url: an http(s) URL of at most {limits.MAX_URL_LENGTH} characters; base64: "
        f"an image (or data: URI) of at most {limits.MAX_INLINE_IMAGE_BYTES} bytes and "
        f"{limits.MAX_INLINE_IMAGE_PIXELS} pixels, read in at most {MAX_IMAGE_READS} reads of "
        f"its chunks, markers or blocks (a PNG: at most {MAX_PNG_COMPRESSED_CHUNKS} iCCP, zTXt "
        f"or iTXt chunks; a TIFF: at most {MAX_TIFF_VALUES} values in an entry of its first IFD)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["type"] == "url":
            problem = url_error(attrs["content"].strip())
            attrs["content"] = attrs["content"].strip()
        else:
            try:
                decode_base64_image(attrs["content"])
                problem = None
            except InvalidImage as exc:
                problem = str(exc)
            attrs["content"] = strip_base64(attrs["content"])
        if problem:
            raise serializers.ValidationError({"content": [problem]})
        return attrs


class LoraSerializer(StrictSerializer):
    model = ModelRefSerializer()
    weight = bounded_float("LoraLoader", "strength_model", default=1.0)


@extend_schema_field(OpenApiTypes.OBJECT)
class PreprocessorParamsField(serializers.DictField):
    """Literal inputs of the preprocessor node: strings, numbers and booleans, never links."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        value = super().to_internal_value(data)
        if len(value) > limits.MAX_PREPROCESSOR_PARAMS:
            raise serializers.ValidationError(f"Give at most {limits.MAX_PREPROCESSOR_PARAMS} parameters.")
        errors = {
            key: ["Must be a string, number or boolean."]
            for key, item in value.items()
            if not isinstance(item, (str, int, float, bool))
        }
        if errors:
            raise serializers.ValidationError(errors)
        return dict(value)


class ControlNetSerializer(StrictSerializer):
    model = ModelRefSerializer()
    weight = bounded_float("ControlNetApplyAdvanced", "strength", default=1.0)
    start_at = bounded_float("ControlNetApplyAdvanced", "start_percent", default=0.0)
    end_at = bounded_float("ControlNetApplyAdvanced", "end_percent", default=1.0)
    preprocessor = serializers.CharField(
        max_length=limits.MAX_PREPROCESSOR_NAME_LENGTH, required=False, allow_null=True, allow_blank=True
    )
    preprocessor_params = PreprocessorParamsField(
        required=False,
        allow_null=True,
        help_text=f"At most {limits.MAX_PREPROCESSOR_PARAMS} literal inputs of the preprocessor.",
    )
    image = ImageSerializer()
    resize_mode = serializers.ChoiceField(choices=list(RESIZE_MODES), default=RESIZE_CROP_AND_RESIZE)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["end_at"] < attrs["start_at"]:
            raise serializers.ValidationError({"end_at": ["end_at must not be before start_at."]})
        attrs["preprocessor"] = (attrs.get("preprocessor") or "").strip() or None
        attrs["preprocessor_params"] = attrs.get("preprocessor_params") or {}
        if attrs["preprocessor"] in object_info():
            attrs["preprocessor_params"] = known_preprocessor_params(
                attrs["preprocessor"], attrs["preprocessor_params"]
            )
        return attrs


def known_preprocessor_params(class_type: str, given: dict[str, Any]) -> dict[str, Any]:
    """Check a core preprocessor's params against its schema and fill in its defaults."""
    node = object_info()[class_type]
    image_input, _ = preprocessor_ports(class_type)
    specs = {
        name: list(spec)
        for section in ("required", "optional")
        for name, spec in (node.get("input", {}).get(section) or {}).items()
    }
    if "IMAGE" not in (spec_type(spec) for spec in specs.values()) or "IMAGE" not in node.get("output", []):
        message = f"{class_type} does not turn an image into an image."
        raise serializers.ValidationError({"preprocessor": [message]})
    errors: dict[str, list[str]] = {}
    params = dict(given)
    for name in given:
        if name == image_input or name not in specs:
            errors[name] = [f"{class_type} has no such input."]
    for name in node.get("input", {}).get("required") or {}:
        spec = specs[name]
        if name == image_input or name in params:
            continue
        values = combo_values(spec)
        if "default" in spec_options(spec):
            params[name] = spec_options(spec)["default"]
        elif values:
            params[name] = values[0]
        else:
            errors[name] = ["This field is required."]
    for name, value in params.items():
        if name not in errors and name in specs:
            problem = input_error({}, specs[name], value, object_info())
            if problem:
                errors[name] = [problem[0].upper() + problem[1:] + "."]
    if errors:
        raise serializers.ValidationError({"preprocessor_params": errors})
    return params
