"""Response shapes of the task API, for the OpenAPI schema (views build the data in selectors)."""

from __future__ import annotations

from rest_framework import serializers

from workflows.models import Task


class TaskCreatedSerializer(serializers.Serializer):
    id = serializers.UUIDField()


class TaskErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    node_id = serializers.CharField(allow_null=True, required=False)
    node_type = serializers.CharField(allow_null=True, required=False)
    exception_type = serializers.CharField(allow_null=True, required=False)


class TaskOutputSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    filename = serializers.CharField()
    content_type = serializers.CharField()
    size = serializers.IntegerField()
    url = serializers.CharField()
    data = serializers.CharField(
        required=False, allow_null=True, help_text="Base64, with ?include=data only."
    )


class DownloadProgressSerializer(serializers.Serializer):
    url = serializers.CharField()
    folder = serializers.CharField()
    status = serializers.CharField()
    bytes_done = serializers.IntegerField()
    bytes_total = serializers.IntegerField(allow_null=True)


class TaskDetailSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Task.Type.choices)
    status = serializers.ChoiceField(choices=Task.Status.choices)
    queue_position = serializers.IntegerField(
        allow_null=True, help_text="1 = next to run; null once the task left the queue."
    )
    progress = serializers.FloatField(help_text="0..1 over the whole graph.")
    preview = serializers.CharField(
        allow_null=True, help_text="Latest preview as a data URL, while running."
    )
    downloads = DownloadProgressSerializer(many=True)
    outputs = TaskOutputSerializer(many=True)
    error = TaskErrorSerializer(allow_null=True)
    node = serializers.CharField(allow_null=True)
    attempts = serializers.IntegerField()
    seed = serializers.IntegerField(allow_null=True)
    params = serializers.DictField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


class TaskSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField()
    type = serializers.ChoiceField(choices=Task.Type.choices)
    status = serializers.ChoiceField(choices=Task.Status.choices)
    progress = serializers.FloatField()
    node = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class TaskPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Tasks matching the filter.")
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = TaskSummarySerializer(many=True)


class TaskPreviewSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Task.Status.choices)
    progress = serializers.FloatField()
    preview = serializers.CharField(allow_null=True)


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField()
    detail = serializers.DictField()
