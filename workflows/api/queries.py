"""Query strings of the task API, validated like bodies so a bad one is a 400 naming the param
(unknown params are ignored: browsers add cache busters)."""

from __future__ import annotations

from rest_framework import serializers

from workflows.graphs import limits
from workflows.models import Task


class TaskListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Task.Status.values, required=False, help_text="Only tasks in this status."
    )
    limit = serializers.IntegerField(
        min_value=1,
        max_value=limits.MAX_LIST_LIMIT,
        default=limits.DEFAULT_LIST_LIMIT,
        help_text=f"Page size, at most {limits.MAX_LIST_LIMIT}.",
    )
    offset = serializers.IntegerField(
        min_value=0,
        max_value=limits.MAX_LIST_OFFSET,
        default=0,
        help_text="Tasks to skip, newest first.",
    )


class TaskDetailQuerySerializer(serializers.Serializer):
    include = serializers.ChoiceField(
        choices=["data"], required=False, help_text="`data`: outputs carry their bytes in base64."
    )
