"""Reads of the node registry, including which task each node is running.

Tasks belong to the `workflows` app, which sits above this one: they are reached through the
reverse relation of `Task.node` (`Node.tasks`). Until that relation exists every node simply has
no current task.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, QuerySet

from nodes.models import CAN_TAKE_A_TASK, Node

# workflows.models.Task.UNFINISHED, which this app cannot import.
UNFINISHED_TASK_STATUSES = ("pending", "downloading", "running")


def node_list() -> QuerySet[Node]:
    return Node.objects.all()


def node_any_idle() -> bool:
    """Whether some node could take a task now (see `CAN_TAKE_A_TASK`)."""
    return Node.objects.filter(CAN_TAKE_A_TASK).exists()


def nodes_to_check() -> list[Node]:
    return list(Node.objects.filter(enabled=True).only("pk", "url", "token"))


def task_model() -> type[Model] | None:
    """The model on the other side of `Node.tasks`, or None while no app defines it."""
    try:
        return Node._meta.get_field("tasks").related_model
    except FieldDoesNotExist:
        return None


def node_current_tasks(node_ids: Iterable[int]) -> dict[int, Any]:
    """node id → primary key of the unfinished task assigned to it (a claim allows only one)."""
    model = task_model()
    ids = list(node_ids)
    if model is None or not ids:
        return {}
    rows = model._default_manager.filter(
        node_id__in=ids, status__in=UNFINISHED_TASK_STATUSES
    ).values_list("node_id", "pk")
    return dict(rows)
