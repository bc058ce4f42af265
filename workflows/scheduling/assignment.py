"""Giving ready tasks their nodes: one transaction claims each chosen node (`idle → busy`, a
conditional UPDATE) and starts its task (`pending → running`), then reads the started tasks as
their runs need them. The dispatcher does it on every pass; a run that ends does it too, for
the node it lets go (see `workflows.tasks.endings`)."""

from __future__ import annotations

import uuid

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F
from django.utils import timezone

from comfy_router.prepared import Select, Update, model_order
from nodes.models import Node
from workflows.models import Task
from workflows.scheduling import affinity as scheduling
from workflows.tasks import leases, metrics

# What a run reads of its task: what it sends and follows, and what its final event shows.
RUN_FIELDS = model_order(Task, (
    "id", "type", "status", "progress", "graph", "params", "files", "main_model", "loras", "seed",
    "prompt_id", "client_id", "prompt_started", "output_node", "attempts", "webhook_url",
    "node_id", "lease_owner", "lease_expires_at", "created_at", "started_at",
))  # fmt: skip
_RUNNING = Select(
    Task,
    lambda task_id: Task.objects.filter(pk=task_id, status=Task.Status.RUNNING, node__isnull=False)
    .values_list(*RUN_FIELDS, "node__url", "node__token"),
    task_id="pk",
)  # once per task: prepared (see comfy_router.prepared)


def task_to_run(task_id: uuid.UUID) -> Task | None:
    """The running task as a run needs it, with its node's URL and token; None when the task is
    not running (any more)."""
    rows = _RUNNING(task_id=task_id)
    if not rows:
        return None
    *values, url, token = rows[0]
    task = Task.from_db(DEFAULT_DB_ALIAS, RUN_FIELDS, values)
    task.node = Node.from_db(DEFAULT_DB_ALIAS, ("id", "url", "token"), (task.node_id, url, token))
    return task


def assign_nodes(*, keep_clients: dict[int, str] | None = None) -> list[tuple[Task, str]]:
    """Pairs ready tasks with idle nodes (see `workflows.scheduling.affinity`) and starts them: the tasks
    as read after, each with the lease its run takes over. In the caller's transaction if one
    is open, else in one of its own: one commit for all. Every claim is conditional, so a node
    or task someone else took since it was read is skipped.

    `keep_clients` node → client id: a task given such a node takes the client id, so that its
    run goes on with the websocket the node's previous run left open under it."""
    choices = scheduling.choose_assignments()
    if not choices:
        return []  # the usual pass when every node is busy: no write, no lock taken
    with transaction.atomic(savepoint=False):
        started = []
        for task_id, node_id, owner in _assign_nodes(choices):
            if keep_clients and node_id in keep_clients:
                _USE_CLIENT(task_id=task_id, client_id=keep_clients[node_id])
            task = task_to_run(task_id)
            if task is not None:
                started.append((task, owner))
    return started


def _assign_nodes(
    choices: list[scheduling.Assignment[scheduling.ReadyTask, scheduling.NodeState]],
) -> list[tuple[uuid.UUID, int, str]]:
    from nodes.services import node_claim, node_release_claim

    assigned = []
    for choice in choices:
        task, node = choice.task, choice.node
        if not node_claim(node_id=node.pk, model=task.main_model, loras=task.loras):
            continue  # another dispatcher took it first
        owner = leases.new_owner()
        won = _START(
            task_id=task.pk,
            node_id=node.pk,
            now=timezone.now(),
            owner=owner,
            expires=leases.lease_deadline(),
        )
        if won:
            assigned.append((task.pk, node.pk, owner))
            metrics.task_started(task, warm=choice.warm)
        else:  # another dispatcher started the task: the node goes back as it was
            node_release_claim(node_id=node.pk, ran_model=node.last_model, ran_loras=node.last_loras)
    return assigned


_START = Update(
    Task,
    lambda task_id, node_id, now, owner, expires: (
        Task.objects.filter(pk=task_id, status=Task.Status.PENDING, files_ready=True),
        {
            "status": Task.Status.RUNNING,
            "node_id": node_id,
            "attempts": F("attempts") + 1,
            "started_at": now,
            "prompt_started": True,  # from now on its prompt may be sent: see Task.prompt_started
            "lease_owner": owner,
            "lease_expires_at": expires,
        },
    ),
    task_id="pk",
    node_id="node",
    now="started_at",
    owner="lease_owner",
    expires="lease_expires_at",
)  # once per task: prepared (see comfy_router.prepared)
_USE_CLIENT = Update(
    Task,
    lambda task_id, client_id: (
        Task.objects.filter(pk=task_id, status=Task.Status.RUNNING),
        {"client_id": client_id},
    ),
    task_id="pk",
    client_id="client_id",
)
