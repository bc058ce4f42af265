"""What a dispatch pass reads of the tasks ready to run: the first of them in the fair share's
order (`workflows.scheduling.fair_share`), each with what scheduling needs.

A pass reads a few tasks per node it may fill, never every ready one, so which it reads decides
who can be served: a read of the oldest alone would never see client B's tasks behind client A's
200. The fair read orders by the fair share's key with each client's place in its own queue as
its turn (a row number per client), so it reads every waiting client's oldest tasks. It sorts
every ready task in the database and costs more to build, so while one client alone waits (the
operator alone, as every pool did before clients) the cheap read of the oldest, on the
(status, created_at) index, is used: its order is then the fair one."""

from __future__ import annotations

import uuid
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, DateTimeField, F, QuerySet, Value, Window
from django.db.models.functions import Coalesce, Least, RowNumber
from django.utils import timezone

from workflows.graphs.requirements import TaskNeeds
from workflows.models import Task
from workflows.scheduling import fair_share

FIELDS = (
    "pk", "main_model", "loras", "attempts", "created_at", "submitted_by_id",
    "submitted_by__priority", "requirements",
)  # fmt: skip


@dataclass(frozen=True)
class ReadyTask:
    """What scheduling reads of a task."""

    pk: uuid.UUID
    main_model: str
    loras: list[str]
    attempts: int
    created_at: datetime
    client: int | None  # who submitted it; None: the operator
    priority: int | None  # its client's; None: the operator's
    needs: TaskNeeds


class SharedHint:
    """Whether the last fair read of this process found several clients waiting: then the next
    pass goes to the fair read at once rather than first trying the cheap one. Only a guess at
    which read to try: each read checks what it found, so a wrong guess costs a query, never
    the order."""

    shared = False


hint = SharedHint()


def promote_before() -> datetime:
    """Tasks created before this have waited past the starvation bound."""
    return timezone.now() - timedelta(seconds=fair_share.PROMOTE_AFTER)


@dataclass(frozen=True)
class Ready:
    tasks: list[ReadyTask]  # in the fair share's order
    # Each client's tasks on nodes, read while several clients wait (else None: the order is
    # first in, first out, and no one's turn was counted).
    held: dict[Hashable, int] | None = None


def ready_in_fair_order(limit: int, *, cutoff: datetime) -> Ready:
    """The first `limit` ready tasks in the fair share's order (fewer: all of them)."""
    if not hint.shared:
        oldest = rows_to_tasks(ready().order_by("created_at").values_list(*FIELDS)[:limit])
        clients = {task.client for task in oldest}
        if len(clients) < 2 and (len(oldest) < limit or not others_waiting(clients)):
            return Ready(oldest)  # one client waits: first in, first out is its fair order
    tasks = fair_read(limit, cutoff)
    clients = {task.client for task in tasks}
    hint.shared = len(clients) > 1
    if not hint.shared:
        return Ready(tasks)
    held = held_by_client()
    return Ready(fair_share.fair_order(tasks, held=held, promote_before=cutoff), held)


def fair_read(limit: int, cutoff: datetime) -> list[ReadyTask]:
    """The first `limit` ready tasks by `fair_share.order_key`, each client's place in its own
    queue as its turn. (Plain functions, not CASE expressions: this statement is built on every
    such pass, and a CASE took twice as long to build.)"""
    rows = (
        ready()
        .annotate(
            since=Least("created_at", Value(cutoff, output_field=DateTimeField())),
            client_priority=Coalesce("submitted_by__priority", fair_share.OPERATOR_PRIORITY),
            turn=Window(RowNumber(), partition_by=F("submitted_by_id"), order_by="created_at"),
        )
        .order_by("since", "-client_priority", "turn", "created_at")
        .values_list(*FIELDS)[:limit]
    )
    return rows_to_tasks(rows)


def others_waiting(clients: set[Hashable]) -> bool:
    """Whether a ready task of another client than `clients` (one at most) waits."""
    if not clients:
        return False
    [client] = clients
    if client is None:
        return ready().filter(submitted_by__isnull=False).exists()
    return ready().exclude(submitted_by_id=client).exists()


def held_by_client() -> dict[Hashable, int]:
    """How many tasks each client has on nodes now, running or queued ahead (None: the
    operator's)."""
    running = Task.objects.filter(status=Task.Status.RUNNING).order_by()
    return dict(running.values_list("submitted_by_id").annotate(held=Count("pk")))


def ready() -> QuerySet[Task]:
    return Task.objects.filter(status=Task.Status.PENDING, files_ready=True)


def rows_to_tasks(rows: Iterable[Sequence[Any]]) -> list[ReadyTask]:
    return [ReadyTask(*row[:7], needs=TaskNeeds.from_json(row[7])) for row in rows]
