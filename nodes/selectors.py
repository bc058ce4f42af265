"""Reads of the node registry, including which task each node is running.

Tasks belong to the `workflows` app (`Task.node`, related name `tasks`); until that model exists
every node simply has no current task.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.db.models import Model, QuerySet

from comfy_router.prepared import Count
from nodes.models import CAN_TAKE_A_TASK, Node

UNFINISHED_TASK_STATUSES = ("pending", "downloading", "running")


def node_list() -> QuerySet[Node]:
    return Node.objects.all()


# Every submission asks this: prepared (see comfy_router.prepared).
_IDLE = Count(Node, lambda: Node.objects.filter(CAN_TAKE_A_TASK))


def node_any_idle() -> bool:
    """Whether some node could take a task now (see `CAN_TAKE_A_TASK`)."""
    return _IDLE() > 0


def nodes_to_check() -> list[Node]:
    return list(Node.objects.filter(enabled=True).only("pk", "url", "token"))


def task_model() -> type[Model] | None:
    try:
        model = apps.get_model("workflows", "Task")
    except LookupError:
        return None
    field_names = {field.name for field in model._meta.get_fields()}
    return model if {"node", "status"} <= field_names else None


def node_current_tasks(node_ids: Iterable[int]) -> dict[int, Any]:
    """node id → primary key of the unfinished task assigned to it (a claim allows only one)."""
    model = task_model()
    ids = list(node_ids)
    if model is None or not ids:
        return {}
    rows = (
        model._default_manager.filter(node_id__in=ids, status__in=UNFINISHED_TASK_STATUSES)
        .values_list("node_id", "pk")
    )
    current: dict[int, Any] = {}
    for node_id, task_id in rows:
        current[node_id] = task_id
    return current
