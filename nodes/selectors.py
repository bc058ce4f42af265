"""Reads of the node registry, including which task each node is running.

Tasks belong to the `workflows` app, which sits above this one: they are reached through the
reverse relation of `Task.node` (`Node.tasks`), never imported, and which of them are unfinished
is the task model's to say (`UNFINISHED`). Until that relation exists every node simply has no
current task.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, OuterRef, QuerySet, Subquery

from nodes.models import CAN_TAKE_A_TASK, Node, can_queue_ahead


def node_list() -> QuerySet[Node]:
    return Node.objects.all()


def node_can_take_a_task() -> bool:
    """Whether some node could take a task now: an idle one (`CAN_TAKE_A_TASK`), or a busy one
    with room in its queue (`can_queue_ahead`)."""
    can_take = CAN_TAKE_A_TASK
    if settings.ROUTER.queue_ahead:
        can_take |= can_queue_ahead(settings.ROUTER.queue_ahead)
    return Node.objects.filter(can_take).exists()


def nodes_to_check() -> list[Node]:
    return list(Node.objects.filter(enabled=True).only("pk", "url", "token", "status", "capabilities_at"))


def task_model() -> type[Model] | None:
    """The model on the other side of `Node.tasks`, or None while no app defines it."""
    try:
        return Node._meta.get_field("tasks").related_model
    except FieldDoesNotExist:
        return None


def unfinished_tasks() -> QuerySet[Any] | None:
    """The tasks that have not ended yet, of any node; None while no app defines tasks."""
    model = task_model()
    if model is None:
        return None
    return model._default_manager.filter(status__in=model.UNFINISHED)  # type: ignore[attr-defined]


def node_current_tasks(node_ids: Iterable[int]) -> dict[int, Any]:
    """node id → primary key of the unfinished task it runs: the first given it, when others
    are queued ahead behind it."""
    tasks = unfinished_tasks()
    ids = list(node_ids)
    if tasks is None or not ids:
        return {}
    current: dict[int, Any] = {}
    for node_id, pk in tasks.filter(node_id__in=ids).order_by("started_at").values_list("node_id", "pk"):
        current.setdefault(node_id, pk)
    return current


def with_current_task(nodes: QuerySet[Node]) -> QuerySet[Node]:
    """The nodes, each annotated with `current_task_id` (None when it runs no task)."""
    tasks = unfinished_tasks()
    if tasks is None:
        return nodes
    first = tasks.filter(node=OuterRef("pk")).order_by("started_at").values("pk")[:1]
    return nodes.annotate(current_task_id=Subquery(first))


def pool_model_files() -> list[dict[str, Any]]:
    """Every model file the enabled nodes have said they have, by folder and name, with how many
    of them have it."""
    counts: Counter[tuple[str, str]] = Counter()
    listed = Node.objects.filter(enabled=True, capabilities_at__isnull=False)
    for files in listed.values_list("model_files", flat=True):
        counts.update(
            (folder, name) for folder, names in (files or {}).items() for name in set(names)
        )
    return [
        {"folder": folder, "name": name, "nodes": nodes}
        for (folder, name), nodes in sorted(counts.items())
    ]
