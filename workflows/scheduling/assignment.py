"""Giving ready tasks their nodes, as the affinity rules say (`workflows.scheduling.affinity`):
one transaction claims each chosen node (`idle → busy`, a conditional UPDATE) and starts its task
(`pending → running`, with a lease for its run), then reads the started tasks as their runs need
them. The dispatcher calls it on every pass."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from comfy_router.owners import new_owner
from nodes.models import Node
from nodes.services import node_claim, node_release_claim
from workflows.graphs.requirements import TaskNeeds
from workflows.models import Task
from workflows.scheduling import affinity
from workflows.scheduling.affinity import Assignment, HoldBackClock
from workflows.scheduling.capabilities import profiles
from workflows.tasks import leases, metrics

LOOKAHEAD = 50  # ready tasks looked at beyond one per idle node: some may pass a waiting one
clock = HoldBackClock()  # when each task of this process first declined a cold node

# What a run reads of its task: what it sends and follows, and what its final event shows.
RUN_FIELDS = (
    "id", "type", "status", "progress", "graph", "params", "files", "main_model", "loras", "seed",
    "prompt_id", "client_id", "prompt_started", "output_node", "attempts", "webhook_url",
    "node", "lease_owner", "lease_expires_at", "created_at", "started_at",
    "node__url", "node__token",
)  # fmt: skip


@dataclass(frozen=True)
class ReadyTask:
    """What scheduling reads of a task."""

    pk: uuid.UUID
    main_model: str
    loras: list[str]
    attempts: int
    created_at: datetime
    needs: TaskNeeds


@dataclass(frozen=True)
class NodeState:
    pk: int
    last_model: str
    last_loras: list[str]
    profile_changed_at: datetime
    reported: bool


def task_to_run(task_id: uuid.UUID) -> Task | None:
    """The running task as a run needs it, with its node's URL and token; None when the task is
    not running (any more)."""
    running = Task.objects.filter(pk=task_id, status=Task.Status.RUNNING, node__isnull=False)
    return running.select_related("node").only(*RUN_FIELDS).first()


def pool_state() -> tuple[list[NodeState], list[str]]:
    """The idle nodes (idle longest first) and the main models the busy ones are running (each
    node holds the model of its current task from its claim on)."""
    idle: list[NodeState] = []
    busy_models: list[str] = []
    pool = Node.objects.filter(enabled=True, status__in=(Node.Status.IDLE, Node.Status.BUSY))
    rows = pool.order_by("idle_since", "pk").values_list(
        "pk", "status", "claimed", "last_model", "last_loras", "profile_changed_at",
        "capabilities_at",
    )  # fmt: skip
    for pk, status, claimed, last_model, last_loras, changed_at, reported_at in rows:
        if status == Node.Status.BUSY:
            busy_models.append(last_model)
        elif not claimed:
            idle.append(
                NodeState(pk, last_model, last_loras or [], changed_at, reported_at is not None)
            )
    return idle, busy_models


def ready_tasks(limit: int) -> list[ReadyTask]:
    """The `limit` oldest tasks ready to run."""
    ready = Task.objects.filter(status=Task.Status.PENDING, files_ready=True).order_by("created_at")
    rows = ready.values_list(
        "pk", "main_model", "loras", "attempts", "created_at", "requirements"
    )[:limit]
    return [ReadyTask(*row[:5], needs=TaskNeeds.from_json(row[5])) for row in rows]


def choose_assignments() -> list[Assignment[ReadyTask, NodeState]]:
    """The pairs for this dispatch pass."""
    idle, busy_models = pool_state()
    if not idle:
        return []
    affinity_wait = settings.ROUTER.affinity_wait
    pool = profiles.for_nodes((n.pk, n.profile_changed_at, n.reported) for n in idle)

    def can_run(task: ReadyTask, node: NodeState) -> bool:
        return pool.can_run(node.pk, task.needs)

    # Usually a pass has a node or two to fill and a short read does; when tasks are held back
    # for a warm node and nodes are left, later ones may go ahead: then more are read.
    short, long = 2 * len(idle) + 2, len(idle) + LOOKAHEAD
    for limit in (short, long) if long > short else (short,):
        ready = ready_tasks(limit)
        now = time.monotonic()
        waited = clock.waited(
            (task.pk for task in ready),
            now,
            all_ready=len(ready) < limit,
            forget_after=affinity.FORGET_AFTER + affinity_wait,
        )
        chosen = affinity.plan(
            ready,
            idle,
            busy_models=busy_models,
            waited=waited,
            affinity_wait=affinity_wait,
            can_run=can_run,
        )
        enough = len(ready) < limit or not chosen.holding_back or len(chosen.assignments) == len(idle)
        if enough:
            break
    clock.hold(chosen.holding_back, now)
    return chosen.assignments


def assign_nodes(*, keep_clients: dict[int, str]) -> list[tuple[Task, str]]:
    """Pairs ready tasks with idle nodes and starts them, in one transaction: the tasks as read
    after, each with the lease its run takes over. Every claim is conditional, so a node or task
    someone else took since it was read is skipped.

    `keep_clients` node → client id: a task given such a node takes the client id, so that its
    run goes on with the websocket the node's previous run left open under it."""
    choices = choose_assignments()
    if not choices:
        return []  # the usual pass when every node is busy: no write, no lock taken
    started = []
    with transaction.atomic():
        for choice in choices:
            task, node = choice.task, choice.node
            owner = _start(task, node, client_id=keep_clients.get(node.pk))
            if owner is None:
                continue
            metrics.task_started(task, warm=choice.warm)
            running = task_to_run(task.pk)
            if running is not None:
                started.append((running, owner))
    return started


def _start(task: ReadyTask, node: NodeState, *, client_id: str | None) -> str | None:
    """Claims the node and starts the task on it; the new lease's owner, or None when another
    dispatcher took either first (the node is then left as it was)."""
    if not node_claim(node_id=node.pk, model=task.main_model, loras=task.loras):
        return None
    owner = new_owner()
    changes = {"client_id": client_id} if client_id else {}
    won = Task.objects.filter(pk=task.pk, status=Task.Status.PENDING, files_ready=True).update(
        status=Task.Status.RUNNING,
        node_id=node.pk,
        attempts=F("attempts") + 1,
        started_at=timezone.now(),
        prompt_started=True,  # from now on its prompt may be sent: see Task.prompt_started
        lease_owner=owner,
        lease_expires_at=leases.lease_deadline(),
        **changes,
    )
    if not won:
        node_release_claim(node_id=node.pk, ran_model=node.last_model, ran_loras=node.last_loras)
        return None
    return owner
