"""Reads of the node registry, including which task each node is running.

Tasks belong to the `workflows` app, which sits above this one: they are reached through the
reverse relation of `Task.node` (`Node.tasks`), never imported, and which of them are unfinished
is the task model's to say (`UNFINISHED`). Until that relation exists every node simply has no
current task.
"""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model, OuterRef, Q, QuerySet, Subquery

from comfy_router.statements import any_row
from nodes.models import CAN_TAKE_A_TASK, Node, ObjectInfo, can_queue_ahead

# The nodes whose reports make up the pool's view (ComfyUI's own `/object_info`, `/models`,
# `/system_stats` served by the router): enabled and answering their health checks.
IN_THE_POOL = Q(enabled=True, status__in=(Node.Status.IDLE, Node.Status.BUSY))


def node_list() -> QuerySet[Node]:
    return Node.objects.all()


def node_can_take_a_task() -> bool:
    """Whether some node could take a task now: an idle one (`CAN_TAKE_A_TASK`), or a busy one
    with room in its queue (`can_queue_ahead`)."""
    can_take = CAN_TAKE_A_TASK
    if settings.ROUTER.queue_ahead:
        can_take |= can_queue_ahead(settings.ROUTER.queue_ahead)
    return any_row(Node, can_take)  # every submission asks: see comfy_router.statements


def nodes_to_check() -> list[Node]:
    return list(
        Node.objects.filter(enabled=True).only("pk", "url", "token", "status", "capabilities_at")
    )


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
    for node_id, pk in (
        tasks.filter(node_id__in=ids).order_by("started_at").values_list("node_id", "pk")
    ):
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


def pool_nodes() -> QuerySet[Node]:
    """The enabled nodes that answer, by URL: what they report is the pool's view."""
    return Node.objects.filter(IN_THE_POOL).order_by("url")


def pool_object_info_digests() -> list[str]:
    """The digests of the `/object_info` answers of the pool's nodes, each once, sorted: the
    pool's `/object_info` is made of these, so they are its version too."""
    stored = pool_nodes().filter(object_info__isnull=False)
    return sorted(set(stored.values_list("object_info_id", flat=True)))


def object_info_bodies(digests: Iterable[str]) -> dict[str, bytes]:
    """digest → the `/object_info` answer's bytes as the node sent them; an answer dropped
    meanwhile is missing."""
    rows = ObjectInfo.objects.filter(pk__in=list(digests)).values_list("digest", "body")
    return {digest: zlib.decompress(body) for digest, body in rows}


def pool_model_files_version() -> tuple[tuple[int, Any], ...]:
    """What `pool_model_folders` is made of, cheaply: which nodes, and when what each can run
    last changed."""
    said = pool_nodes().filter(capabilities_at__isnull=False)
    return tuple(said.order_by("pk").values_list("pk", "profile_changed_at"))


def pool_model_folders() -> dict[str, list[str]]:
    """folder → the sorted names of the model files any of the pool's nodes has there, folders
    in the order the nodes listed them (ComfyUI's own order on a plain install)."""
    folders: dict[str, set[str]] = {}
    said = pool_nodes().filter(capabilities_at__isnull=False)
    for files in said.values_list("model_files", flat=True):
        for folder, names in (files if isinstance(files, dict) else {}).items():
            folders.setdefault(folder, set()).update(n for n in names if isinstance(n, str))
    return {folder: sorted(names) for folder, names in folders.items()}
