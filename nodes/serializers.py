"""Request and response shapes of the cluster API."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import serializers

from nodes.labels import MAX_LABELS, clean_labels
from nodes.models import Node
from nodes.node_url import InvalidNodeURL, normalize_node_url
from nodes.probe import validate_token


class NodeURLField(serializers.CharField):
    """A node URL, normalised on the way in; a bad one is a 400 naming the field."""

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("help_text", "http(s)://host[:port][/path] of the ComfyUI server")
        super().__init__(max_length=500, **kwargs)  # type: ignore[arg-type]

    def to_internal_value(self, data: object) -> str:
        try:
            return normalize_node_url(super().to_internal_value(data))
        except InvalidNodeURL as error:
            raise serializers.ValidationError(str(error)) from None


class NodeLabelsField(serializers.ListField):
    """Node labels by the rule of `nodes.labels`, sorted, each once."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=serializers.CharField(), max_length=MAX_LABELS, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        try:
            return clean_labels(super().to_internal_value(data))
        except DjangoValidationError as error:
            raise serializers.ValidationError(error.messages) from None


class NodeAddSerializer(serializers.Serializer):
    url = NodeURLField()
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    token = serializers.CharField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        validators=[validate_token],
        help_text="Sent to the node as `Authorization: Bearer …`; never shown again. Printable "
        "ASCII without spaces.",
    )
    labels = NodeLabelsField(
        required=False,
        help_text="Labels submissions may ask for (`node_labels`); given, they replace the "
        "node's labels.",
    )


class NodeDeleteSerializer(serializers.Serializer):
    url = NodeURLField()


class NodeDeleteQuerySerializer(serializers.Serializer):
    force = serializers.BooleanField(
        required=False, default=False, help_text="Delete the node even while it runs a task."
    )


class NodeSerializer(serializers.ModelSerializer):
    current_task = serializers.SerializerMethodField(
        help_text="Id of the task the node is running, if any."
    )
    node_classes = serializers.SerializerMethodField(
        help_text="How many node classes the node has (`/object_info`); null until it says."
    )
    model_files = serializers.SerializerMethodField(
        help_text="Its model files by ComfyUI folder (`/models`); null until it says."
    )

    class Meta:
        model = Node
        fields = [
            "url",
            "name",
            "status",
            "held",
            "enabled",
            "health_failures",
            "last_seen_at",
            "device_name",
            "vram_total",
            "vram_free",
            "comfyui_version",
            "labels",
            "node_classes",
            "model_files",
            "capabilities_at",
            "current_task",
        ]
        read_only_fields = fields

    def get_node_classes(self, node: Node) -> int | None:
        return len(node.node_classes) if node.has_reported else None

    def get_model_files(self, node: Node) -> dict[str, list[str]] | None:
        return node.model_files if node.has_reported else None

    def get_current_task(self, node: Node) -> str | None:
        task_id = self.context.get("current_tasks", {}).get(node.pk)
        return None if task_id is None else str(task_id)


class NodeListSerializer(serializers.Serializer):
    nodes = NodeSerializer(many=True)


class NodeDeletedSerializer(serializers.Serializer):
    url = serializers.CharField()
    deleted = serializers.BooleanField()


class ModelFileSerializer(serializers.Serializer):
    folder = serializers.CharField(help_text="ComfyUI's folder name: checkpoints, loras, vae, …")
    name = serializers.CharField(help_text="The file name as a graph names it.")
    nodes = serializers.IntegerField(help_text="How many enabled nodes have it.")


class ModelListSerializer(serializers.Serializer):
    models = ModelFileSerializer(many=True)
