"""Request and response shapes of the cluster API."""

from __future__ import annotations

from rest_framework import serializers

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

    class Meta:
        model = Node
        fields = [
            "url",
            "name",
            "status",
            "enabled",
            "health_failures",
            "last_seen_at",
            "device_name",
            "vram_total",
            "vram_free",
            "comfyui_version",
            "current_task",
        ]
        read_only_fields = fields

    def get_current_task(self, node: Node) -> str | None:
        task_id = self.context.get("current_tasks", {}).get(node.pk)
        return None if task_id is None else str(task_id)


class NodeListSerializer(serializers.Serializer):
    nodes = NodeSerializer(many=True)


class NodeDeletedSerializer(serializers.Serializer):
    url = serializers.CharField()
    deleted = serializers.BooleanField()
