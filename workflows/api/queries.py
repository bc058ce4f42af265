"""Query strings of the task API, validated like bodies so a bad one is a 400 naming the param
(unknown params are ignored: browsers add cache busters)."""

from __future__ import annotations

import math
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from comfy_router.sizes import format_size
from workflows.graphs import limits
from workflows.models import Task

# What `include=data` may carry in all: past it, base64 in a JSON answer costs the router several
# times the outputs' size in memory for each request, so their URLs are the way.
MAX_INCLUDED_DATA_BYTES = 16 * 1024 * 1024


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


# How long a request may wait for its task to end (`?wait=`): a client wanting longer asks again,
# or listens to the task's events.
MAX_WAIT_SECONDS = 300


@extend_schema_field(
    {"type": "number", "minimum": 0, "exclusiveMinimum": True, "maximum": MAX_WAIT_SECONDS}
)
class WaitField(serializers.FloatField):
    """Seconds, more than 0: a FloatField's `min_value` allows the bound itself, so the field
    checks it, and says so in the schema (drf-spectacular drops `exclusiveMinimum` beside one)."""

    def to_internal_value(self, data: Any) -> float:
        value = super().to_internal_value(data)
        if not math.isfinite(value) or value <= 0:
            raise serializers.ValidationError(
                f"Ensure this value is more than 0 and at most {MAX_WAIT_SECONDS}."
            )
        return value


class WaitQuerySerializer(serializers.Serializer):
    wait = WaitField(
        required=False,
        max_value=MAX_WAIT_SECONDS,
        help_text=(
            "Seconds to wait for the task to end before answering, more than 0 and at most "
            f"{MAX_WAIT_SECONDS}."
        ),
    )


class TaskDetailQuerySerializer(WaitQuerySerializer):
    include = serializers.ChoiceField(
        choices=["data"],
        required=False,
        help_text=(
            "`data`: outputs carry their bytes in base64, when they take at most "
            f"{format_size(MAX_INCLUDED_DATA_BYTES)} in all; past that a 400 (fetch each from its "
            "`url`)."
        ),
    )


def refuse_data_past_the_bound(outputs: list[dict[str, Any]]) -> None:
    """A 400 on `include` when the outputs take more than `include=data` may carry."""
    size = sum(output["size"] for output in outputs)
    if size > MAX_INCLUDED_DATA_BYTES:
        message = (
            f"The outputs take {format_size(size)}; include=data carries at most "
            f"{format_size(MAX_INCLUDED_DATA_BYTES)} in all: fetch each output from its url."
        )
        raise serializers.ValidationError({"include": [message]})
