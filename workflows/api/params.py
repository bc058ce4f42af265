"""Validation of `POST /workflow` bodies: `{"type", "params", "webhook"}` → params with defaults + graph.

Every violation is a `ValidationError` in DRF's nested shape under `params`
(`{"params": {"loras": [{}, {"weight": [...]}]}}`), so the API can name the field
(`params.loras[1].weight`) and nothing fails later on a node. Limits: workflows.graphs.limits.
"""

from __future__ import annotations

import json
import random
import threading
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from nodes.serializers import NodeLabelsField
from workflows.api.param_fields import (
    ControlNetSerializer,
    ImageSerializer,
    LoraSerializer,
    ModelRefSerializer,
    StrictSerializer,
    bounded_float,
    url_error,
)
from workflows.graphs import limits
from workflows.graphs.builders import build
from workflows.graphs.builders.stages import effective_denoise
from workflows.graphs.comfyui_graph import api_graph_errors
from workflows.graphs.object_info import combo, number_limits
from workflows.graphs.requirements import graph_needs, task_needs
from workflows.tasks.services import Submission

FLUX_DEFAULT_STEPS = {"dev": 20, "schnell": 4}


def _size_field(default: int) -> serializers.IntegerField:
    low, high = number_limits("EmptyLatentImage", "width")
    return serializers.IntegerField(min_value=low, max_value=high, default=default)


def _steps_field(default: int | None) -> serializers.IntegerField:
    low, high = number_limits("KSampler", "steps")
    if default is None:
        return serializers.IntegerField(min_value=low, max_value=high, required=False, allow_null=True)
    return serializers.IntegerField(min_value=low, max_value=high, default=default)


def _batch_size_field() -> serializers.IntegerField:
    low, high = number_limits("EmptyLatentImage", "batch_size")
    high = min(int(high or 1), limits.MAX_BATCH_SIZE)
    return serializers.IntegerField(
        min_value=low,
        max_value=high,
        default=1,
        help_text=f"batch_size × width × height must be at most {limits.MAX_PIXELS_PER_TASK}.",
    )


def _seed_field() -> serializers.IntegerField:
    low, high = number_limits("KSampler", "seed")
    return serializers.IntegerField(
        min_value=low,
        max_value=high,
        required=False,
        allow_null=True,
        help_text="Omit (or null) for a random seed; the task shows the one it used.",
    )


class SamplingParamsSerializer(StrictSerializer):
    """Fields every predefined family has; families override the defaults."""

    loras = LoraSerializer(
        many=True, required=False, max_length=limits.MAX_LORAS, help_text=f"At most {limits.MAX_LORAS}."
    )
    controlnets = ControlNetSerializer(
        many=True,
        required=False,
        max_length=limits.MAX_CONTROLNETS,
        help_text=f"At most {limits.MAX_CONTROLNETS}.",
    )
    prompt = serializers.CharField(
        max_length=limits.MAX_PROMPT_LENGTH, allow_blank=True, trim_whitespace=False
    )
    negative_prompt = serializers.CharField(
        max_length=limits.MAX_PROMPT_LENGTH,
        allow_blank=True,
        allow_null=True,
        trim_whitespace=False,
        default="",
    )
    input_image = ImageSerializer(required=False, allow_null=True)
    input_mask = ImageSerializer(required=False, allow_null=True)
    denoise = bounded_float("KSampler", "denoise", required=False, allow_null=True)
    width = _size_field(512)
    height = _size_field(512)
    batch_size = _batch_size_field()
    sampler = serializers.ChoiceField(choices=combo("KSampler", "sampler_name"), default="euler")
    scheduler = serializers.ChoiceField(choices=combo("KSampler", "scheduler"), default="normal")
    steps = _steps_field(20)
    cfg_scale = bounded_float("KSampler", "cfg", default=7.0)
    seed = _seed_field()

    def validate_width(self, value: int) -> int:
        return _multiple_of_size_step(value)

    def validate_height(self, value: int) -> int:
        return _multiple_of_size_step(value)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs.setdefault("loras", [])
        attrs.setdefault("controlnets", [])
        attrs["negative_prompt"] = attrs.get("negative_prompt") or ""
        if attrs.get("input_mask") and not attrs.get("input_image"):
            raise serializers.ValidationError({"input_mask": ["input_mask needs an input_image to inpaint."]})
        pixels = attrs["batch_size"] * attrs["width"] * attrs["height"]
        if pixels > limits.MAX_PIXELS_PER_TASK:
            message = f"batch_size × width × height must be at most {limits.MAX_PIXELS_PER_TASK}."
            raise serializers.ValidationError({"batch_size": [message]})
        attrs["denoise"] = effective_denoise(attrs)
        return attrs


def _multiple_of_size_step(value: int) -> int:
    if value % limits.SIZE_MULTIPLE:
        raise serializers.ValidationError(f"Must be a multiple of {limits.SIZE_MULTIPLE}.")
    return value


class SD15ParamsSerializer(SamplingParamsSerializer):
    """SD1.5: a checkpoint (with optional VAE), 512×512 and 20 steps by default."""

    checkpoint = ModelRefSerializer()
    vae = ModelRefSerializer(required=False, allow_null=True)


class SDXLParamsSerializer(SD15ParamsSerializer):
    """SDXL: a checkpoint (with optional VAE), 1024×1024 and 25 steps by default."""

    width = _size_field(1024)
    height = _size_field(1024)
    steps = _steps_field(25)


class FluxParamsSerializer(SamplingParamsSerializer):
    """Flux: diffusion model, T5-XXL + CLIP-L and VAE; `cfg_scale` is Flux guidance (dev only)."""

    unet = ModelRefSerializer()
    unet_dtype = serializers.ChoiceField(choices=combo("UNETLoader", "weight_dtype"), default="default")
    unet_type = serializers.ChoiceField(choices=["dev", "schnell"], default="dev")
    vae = ModelRefSerializer()
    t5xxl = ModelRefSerializer()
    clip = ModelRefSerializer()
    width = _size_field(1024)
    height = _size_field(1024)
    # ComfyUI's Flux examples use the simple scheduler; steps default by unet_type (dev 20, schnell 4).
    scheduler = serializers.ChoiceField(choices=combo("KSampler", "scheduler"), default="simple")
    steps = _steps_field(None)
    cfg_scale = bounded_float("FluxGuidance", "guidance", default=3.5)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        if attrs.get("steps") is None:
            attrs["steps"] = FLUX_DEFAULT_STEPS[attrs["unet_type"]]
        return attrs


@extend_schema_field(OpenApiTypes.OBJECT)
class ApiGraphField(serializers.Field):
    """An API-format ComfyUI graph (`{node_id: {"class_type", "inputs"}}`), checked by comfyui_graph."""

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        errors = api_graph_errors(data)
        if errors:
            raise serializers.ValidationError(errors)
        return dict(data)

    def to_representation(self, value: Any) -> Any:
        return value


class ComfyUIParamsSerializer(StrictSerializer):
    """Any API-format graph; http(s) URLs in core loaders' file inputs are fetched first."""

    prompt = ApiGraphField(
        help_text=f"API-format graph of at most {limits.MAX_GRAPH_NODES} nodes and "
        f"{limits.MAX_GRAPH_INPUTS} inputs in all; URLs in file inputs at most "
        f"{limits.MAX_URL_LENGTH} characters."
    )


class WebhookSerializer(StrictSerializer):
    url = serializers.CharField(max_length=limits.MAX_URL_LENGTH)

    def validate_url(self, value: str) -> str:
        problem = url_error(value)
        if problem:
            raise serializers.ValidationError(problem)
        return value


PARAMS_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    "SD15": SD15ParamsSerializer,
    "SDXL": SDXLParamsSerializer,
    "Flux": FluxParamsSerializer,
    "ComfyUI": ComfyUIParamsSerializer,
}


def _submission_serializer(workflow_type: str) -> type[serializers.Serializer]:
    fields = {
        "type": serializers.ChoiceField(choices=[workflow_type]),
        "params": PARAMS_SERIALIZERS[workflow_type](),
        "webhook": WebhookSerializer(required=False, allow_null=True),
        "node_labels": NodeLabelsField(
            required=False,
            help_text="Only nodes that carry every one of these labels take the task.",
        ),
    }
    return type(f"{workflow_type}WorkflowSubmissionSerializer", (StrictSerializer,), fields)


SUBMISSION_SERIALIZERS = {name: _submission_serializer(name) for name in PARAMS_SERIALIZERS}

# For `@extend_schema(request=WorkflowSubmissionSchema)`: one variant per workflow type.
WorkflowSubmissionSchema = PolymorphicProxySerializer(
    component_name="WorkflowSubmission",
    serializers={name: serializer for name, serializer in SUBMISSION_SERIALIZERS.items()},
    resource_type_field_name="type",
)


class WorkflowSubmissionSerializer(serializers.Serializer):
    """The whole body; dispatches `params` to the serializer of `type`. Use `validate_submission`."""

    type = serializers.ChoiceField(choices=list(PARAMS_SERIALIZERS))
    params = serializers.DictField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        family = SUBMISSION_SERIALIZERS[attrs["type"]](data=self.initial_data)
        family.is_valid(raise_exception=True)
        return dict(family.validated_data)

    def run_validation(self, data: Any = serializers.empty) -> Any:
        try:
            return super().run_validation(data)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError(list_errors_as_lists(exc.detail)) from None


class WorkflowSubmissionSerializerSchema(OpenApiSerializerExtension):
    """Documents WorkflowSubmissionSerializer as its per-type variants, not as a bare `params` dict."""

    target_class = WorkflowSubmissionSerializer

    def map_serializer(self, auto_schema: Any, direction: Any) -> Any:
        return auto_schema._map_serializer(WorkflowSubmissionSchema, direction)


def list_errors_as_lists(detail: Any) -> Any:
    """DRF 3.18 reports list items as `{1: {...}}`; give them as `[{}, {...}]` like earlier DRF.

    List indexes are ints, graph node ids are strings, so `{"5": ...}` stays a mapping.
    """
    if isinstance(detail, dict):
        converted = {key: list_errors_as_lists(value) for key, value in detail.items()}
        if converted and all(isinstance(key, int) and not isinstance(key, bool) for key in converted):
            return [converted.get(index, {}) for index in range(max(converted) + 1)]
        return converted
    if isinstance(detail, list):
        return [list_errors_as_lists(item) for item in detail]
    return detail


def validate_submission(data: Any, *, rng: random.Random | None = None) -> Submission:
    """Validate a POST /workflow body and build its graph; raises rest_framework ValidationError.

    The returned params are JSON-safe, with defaults filled in and the seed actually used.
    """
    # The body's own serializer first: checked through `WorkflowSubmissionSerializer`, it would be
    # built and run twice per submission. A body it refuses (or with no known type) goes through
    # the full one, for the errors as that one words them.
    kind = data.get("type") if isinstance(data, dict) else None
    family = family_serializers.get(kind) if isinstance(kind, str) else None
    validated = None
    if family is not None:
        try:
            validated = family.run_validation(data)
        except serializers.ValidationError:
            pass
    if validated is None:
        serializer = WorkflowSubmissionSerializer(data=data)
        serializer.is_valid(raise_exception=True)
        validated = serializer.validated_data
    params = _plain(validated["params"])
    result = build(validated["type"], params, rng=rng)
    if validated["type"] != "ComfyUI":
        params["seed"] = result.seed
    webhook = validated.get("webhook")
    needs = graph_needs(result.graph, result.files)
    return Submission(
        type=validated["type"],
        params=params,
        webhook_url=webhook["url"] if webhook else None,
        build=result,
        needs=task_needs(needs, labels=validated.get("node_labels", ())),
    )


class FamilySerializers(threading.local):
    """One serializer of each workflow type per thread, used again for every submission.

    Building a serializer deep-copies its declared fields, nested ones too, which was most of the
    cost of validating a body. `run_validation` keeps nothing of a call on the
    serializer (unlike `is_valid`, which keeps the data and the result), so one instance serves
    any number of bodies; a thread of its own each, as DRF's fields are not made for sharing."""

    def __init__(self) -> None:
        self.made: dict[str, serializers.Serializer] = {}

    def get(self, kind: str) -> serializers.Serializer | None:
        found = self.made.get(kind)
        if found is None and kind in SUBMISSION_SERIALIZERS:
            found = self.made[kind] = SUBMISSION_SERIALIZERS[kind]()
        return found


family_serializers = FamilySerializers()


def _plain(value: Any) -> Any:
    """OrderedDicts and ReturnDicts into plain JSON data."""
    return json.loads(json.dumps(value))
