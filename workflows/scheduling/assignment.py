"""Giving ready tasks their nodes, in the fair share's order (`workflows.scheduling.fair_share`)
and as the affinity rules say (`workflows.scheduling.affinity`): one transaction claims each
chosen node (`idle → busy`, or one more place in a busy node's queue: a conditional UPDATE) and
starts its task (`pending → running`, with a lease for its run), then reads the started tasks as
their runs need them. The dispatcher calls it on every pass, and so does each run's ending.

With NODE__QUEUE_AHEAD, a busy node gets its next task while it runs one: its run posts the
prompt at once, and ComfyUI starts it the moment the one before ends. A task so queued that has
not started yet is taken back for a node left idle (`affinity.steals`), or for a waiting task
that comes before it in the fair share's order (`fair_share.fair_steals`): its run deletes it
from the node's queue, makes sure it never ran, and puts it back in ours."""

from __future__ import annotations

import time
import uuid
from collections.abc import Hashable
from dataclasses import dataclass, field, replace
from datetime import datetime

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from comfy_router.owners import new_owner
from comfy_router.statements import Condition, equal, quoted, update_row
from nodes.models import Node
from nodes.services import node_claim, node_release_claim
from workflows.graphs.requirements import TaskNeeds
from workflows.models import Task
from workflows.scheduling import affinity, fair_share
from workflows.scheduling.affinity import Assignment, HoldBackClock
from workflows.scheduling.capabilities import PoolProfile, profiles
from workflows.scheduling.ready import Ready, ReadyTask, promote_before, ready_in_fair_order
from workflows.tasks import leases, metrics

LOOKAHEAD = 50  # ready tasks looked at beyond one per idle node: some may pass a waiting one
clock = HoldBackClock()  # when each task of this process first declined a cold node

# What a run reads of its task: what it sends and follows, and what its final event shows.
RUN_FIELDS = (
    "id", "type", "status", "progress", "graph", "params", "files", "main_model", "loras", "seed",
    "prompt_id", "client_id", "prompt_started", "output_node", "attempts", "webhook_url",
    "base_url", "comfy_client_id", "extra_data", "submitted_by", "node", "lease_owner",
    "lease_expires_at", "created_at", "started_at", "node__url", "node__token",
)  # fmt: skip


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
    return tasks_to_run([task_id]).get(task_id)


def tasks_to_run(task_ids: list[uuid.UUID]) -> dict[uuid.UUID, Task]:
    """`task_to_run` of each task, in one query (by id; those not running left out).

    Every pass that starts a task reads it so, and the queryset (`select_related("node")` with
    `only(*RUN_FIELDS)`) took three times as long to build and run as the statement written
    once (`bench/statements.py`). That statement is read through Django's `raw()`, which
    converts each value as a queryset does; the node's URL and token come with it, and the node
    is attached with them (all a run reads of it)."""
    if not task_ids:
        return {}
    connection = connections[DEFAULT_DB_ALIAS]
    ids = [Task._meta.pk.get_db_prep_value(task_id, connection) for task_id in task_ids]
    sql = _RUN_SELECT.format(ids=", ".join(["%s"] * len(ids)))
    running = {}
    for task in Task.objects.raw(sql, [Task.Status.RUNNING, *ids]):
        task.node = Node(pk=task.node_id, url=task.run_node_url, token=task.run_node_token)
        running[task.pk] = task
    return running


def _run_select() -> str:
    """`tasks_to_run`'s SELECT, `{ids}` left for the placeholders of the ids."""
    task, node = Task._meta, Node._meta
    columns = [
        f"t.{quoted(task.get_field(name).column)}" for name in RUN_FIELDS if "__" not in name
    ]
    return (
        f"SELECT {', '.join(columns)}, n.{quoted(node.get_field('url').column)} AS run_node_url,"
        f" n.{quoted(node.get_field('token').column)} AS run_node_token"
        f" FROM {quoted(task.db_table)} t"
        f" JOIN {quoted(node.db_table)} n ON n.{quoted(node.pk.column)} ="
        f" t.{quoted(task.get_field('node').column)}"
        f" WHERE t.{quoted(task.get_field('status').column)} = %s"
        f" AND t.{quoted(task.pk.column)} IN ({{ids}})"
    )


_RUN_SELECT = _run_select()


@dataclass(frozen=True)
class Pool:
    """The nodes a pass may give tasks to, each in the order the plan prefers them."""

    idle: list[NodeState]  # idle longest first
    room: list[NodeState]  # busy with room in their queue: fewest held, then busy longest
    busy_models: list[str]  # the model each busy node will have loaded, one per node
    full_models: list[str]  # the same, of busy nodes whose queue is full
    queued_on: list[NodeState]  # busy nodes holding a task queued ahead (steals look only then)


def pool_state() -> Pool:
    """The enabled online nodes, as scheduling sees them (each holds the model of its latest
    task from its claim on)."""
    idle: list[NodeState] = []
    room: list[tuple[int, NodeState]] = []
    busy_models: list[str] = []
    full_models: list[str] = []
    queued_on: list[NodeState] = []
    limit = 1 + settings.ROUTER.queue_ahead
    pool = Node.objects.filter(enabled=True, status__in=(Node.Status.IDLE, Node.Status.BUSY))
    rows = pool.order_by("idle_since", "pk").values_list(
        "pk", "status", "held", "last_model", "last_loras", "profile_changed_at",
        "capabilities_at",
    )  # fmt: skip
    for pk, status, held, last_model, last_loras, changed_at, reported_at in rows:
        state = NodeState(pk, last_model, last_loras or [], changed_at, reported_at is not None)
        if status == Node.Status.BUSY:
            busy_models.append(last_model)
            if held > 1:
                queued_on.append(state)
            if held >= limit:
                full_models.append(last_model)
            elif held >= 1:
                room.append((held, state))
        elif held == 0:
            idle.append(state)
    room.sort(key=lambda entry: entry[0])  # stable: busy longest first among equals
    return Pool(idle, [state for _, state in room], busy_models, full_models, queued_on)


def profile_of(nodes: list[NodeState]) -> PoolProfile:
    """What the pool can run, checked fresh for these nodes (`capabilities.profiles`)."""
    return profiles.for_nodes((n.pk, n.profile_changed_at, n.reported) for n in nodes)


@dataclass(frozen=True)
class QueuedTask:
    """A task queued ahead on a busy node, not known to have started there (a steal candidate)."""

    pk: uuid.UUID
    main_model: str
    loras: list[str]
    needs: TaskNeeds
    warm_where_queued: bool
    queued_for: float
    node: int
    node_model: str  # the model of the task before it on the node
    client: int | None
    priority: int | None
    created_at: datetime
    asked: bool  # already asked to move
    started: bool  # its run has written progress: ComfyUI runs it


def queued_tasks() -> list[QueuedTask]:
    """The tasks queued ahead on busy nodes, oldest first: on each node, every unfinished task
    but the first given it (which runs, or has just ended), those already asked to move too."""
    running = Task.objects.filter(status=Task.Status.RUNNING, node__held__gt=1)
    rows = running.order_by("node_id", "started_at").values_list(
        "pk", "node_id", "main_model", "loras", "requirements", "started_at", "created_at",
        "steal_requested", "submitted_by_id", "submitted_by__priority", "progress", named=True,
    )  # fmt: skip
    now = timezone.now()
    queued: list[QueuedTask] = []
    before = None  # the row of the task before, if on the same node
    for row in rows:
        if before is not None and before.node_id == row.node_id:
            queued.append(
                QueuedTask(
                    pk=row.pk,
                    main_model=row.main_model,
                    loras=row.loras or [],
                    needs=TaskNeeds.from_json(row.requirements),
                    warm_where_queued=bool(row.main_model) and before.main_model == row.main_model,
                    queued_for=(now - row.started_at).total_seconds() if row.started_at else 0.0,
                    node=row.node_id,
                    node_model=before.main_model,
                    client=row.submitted_by_id,
                    priority=row.submitted_by__priority,
                    created_at=row.created_at,
                    asked=row.steal_requested,
                    started=row.progress > 0,
                )
            )
        before = row
    return sorted(queued, key=lambda task: task.created_at)


@dataclass
class Choice:
    """What a pass decided: tasks to start (on idle nodes, or queued ahead on busy ones) and
    tasks to take back from a busy node's queue, for an idle node or a fairer task."""

    assignments: list[tuple[Assignment[ReadyTask, NodeState], bool]] = field(default_factory=list)
    steals: list[Assignment[QueuedTask, NodeState]] = field(default_factory=list)
    # queued-ahead tasks to take back for waiting tasks that come before them in the fair order
    fair_steals: list[QueuedTask] = field(default_factory=list)


def choose_assignments() -> Choice:
    """The pairs for this dispatch pass: ready tasks, in the fair share's order, to idle nodes
    first, as the affinity rules say; those left queued ahead on busy nodes with room; and
    queued-ahead tasks to take back: for idle nodes still left, and, while several clients
    wait, for waiting tasks that come before them in the fair order."""
    state = pool_state()
    if not state.idle and not state.room:
        return full_pool_fair_steals(state) if state.queued_on else Choice()
    affinity_wait = settings.ROUTER.affinity_wait
    pool = profile_of([*state.idle, *state.room])

    def can_run(task: ReadyTask | QueuedTask, node: NodeState) -> bool:
        return pool.can_run(node.pk, task.needs)

    nodes = len(state.idle) + len(state.room)
    # Usually a pass has a node or two to fill and a short read does; when tasks are held back
    # for a warm node and nodes are left, later ones may go ahead: then more are read.
    short, long = 2 * nodes + 2, nodes + LOOKAHEAD
    cutoff = promote_before()
    for limit in (short, long) if long > short else (short,):
        ready = ready_in_fair_order(limit, cutoff=cutoff)
        now = time.monotonic()
        waited = clock.waited(
            (task.pk for task in ready.tasks),
            now,
            all_ready=len(ready.tasks) < limit,
            forget_after=affinity.FORGET_AFTER + affinity_wait,
        )
        first = affinity.plan(
            ready.tasks,
            state.idle,
            busy_models=state.busy_models,
            waited=waited,
            affinity_wait=affinity_wait,
            can_run=can_run,
        )
        given = {choice.task.pk for choice in first.assignments}
        left = [task for task in ready.tasks if task.pk not in given]
        ahead = affinity.plan(
            left,
            state.room + just_busy(first.assignments),
            busy_models=state.full_models,
            waited=waited,
            affinity_wait=affinity_wait,
            can_run=can_run,
        )
        chosen = len(first.assignments) + len(ahead.assignments)
        holding_back = first.holding_back + ahead.holding_back
        if len(ready.tasks) < limit or not holding_back or chosen == nodes:
            break
    clock.hold(holding_back, now)
    choice = Choice(
        [(pair, False) for pair in first.assignments] + [(pair, True) for pair in ahead.assignments]
    )
    if not state.queued_on:
        return choice
    queued: list[QueuedTask] | None = None
    given_nodes = {pair.node.pk for pair in first.assignments}
    left_idle = [node for node in state.idle if node.pk not in given_nodes]
    if left_idle:
        queued = queued_tasks()
        choice.steals = affinity.steals(
            [task for task in queued if not task.asked],
            left_idle,
            affinity_wait=affinity_wait,
            can_run=can_run,
        )
    # A task waiting a moment for a node with its model asks for no other place meanwhile: the
    # place would go to the next task, and the same would be asked again.
    waiting_warm = {pk for pk, waited_for in waited.items() if waited_for < affinity_wait}
    asks_not = {pair.task.pk for pair in ahead.assignments} | set(holding_back) | waiting_warm
    waiting = [task for task in left if task.pk not in asks_not]
    if ready.held is not None and waiting:  # several clients wait
        choice.fair_steals = fair_steals(
            waiting,
            queued_tasks() if queued is None else queued,
            pool=profile_of(state.queued_on),
            held=held_after(ready, choice),
            stolen=choice.steals,
            cutoff=cutoff,
        )
    return choice


def full_pool_fair_steals(state: Pool) -> Choice:
    """With every node full, a fair-share steal is all a pass can do: for a client that came
    while the pool was full (`task_announce` nudges then), before the next prompt ends. Read
    only while several clients wait; one client waiting costs the ready read alone."""
    cutoff = promote_before()
    ready = ready_in_fair_order(len(state.queued_on) + 2, cutoff=cutoff)
    if ready.held is None:
        return Choice()
    steals = fair_steals(
        ready.tasks,
        queued_tasks(),
        pool=profile_of(state.queued_on),
        held=ready.held,
        stolen=[],
        cutoff=cutoff,
    )
    return Choice(fair_steals=steals)


def fair_steals(
    waiting: list[ReadyTask],
    queued: list[QueuedTask],
    *,
    pool: PoolProfile,
    held: dict[Hashable, int],
    stolen: list[Assignment[QueuedTask, NodeState]],
    cutoff: datetime,
) -> list[QueuedTask]:
    """The tasks queued ahead to take back for waiting tasks that come before them in the fair
    order, the tasks this pass takes back for idle nodes (`stolen`) counted as places already
    being freed."""
    taken = {steal.task.pk for steal in stolen}
    chosen = fair_share.fair_steals(
        waiting,
        [task for task in queued if task.pk not in taken],
        held=held,
        promote_before=cutoff,
        can_run=lambda task, queued: pool.can_run(queued.node, task.needs),
        in_flight=len(taken),
    )
    return [queued for _, queued in chosen]


def held_after(ready: Ready, choice: Choice) -> dict[Hashable, int]:
    """How many tasks each client will hold on nodes once this pass's are started."""
    held = dict(ready.held or {})
    for pair, _ in choice.assignments:
        held[pair.task.client] = held.get(pair.task.client, 0) + 1
    return held


def just_busy(assignments: list[Assignment[ReadyTask, NodeState]]) -> list[NodeState]:
    """The idle nodes this pass gives a task, as busy nodes with room: with queue-ahead, each
    gets its next task in the same pass, before its first prompt can end (a pool brought
    online at once would otherwise wait a whole prompt for its second one)."""
    if not settings.ROUTER.queue_ahead:
        return []
    return [
        replace(pair.node, last_model=pair.task.main_model, last_loras=list(pair.task.loras))
        if pair.task.main_model
        else pair.node
        for pair in assignments
    ]


@dataclass
class Assigned:
    """What `assign_nodes` did: runs to start, and queued-ahead tasks asked to move."""

    # (task, its run's lease, queued ahead behind the node's running prompt)
    started: list[tuple[Task, str, bool]] = field(default_factory=list)
    steals: list[uuid.UUID] = field(default_factory=list)

    def client_ids(self) -> set[str]:
        """The client ids of the started tasks (some, an idle websocket's: `keep_clients`)."""
        return {task.client_id for task, _, _ in self.started}


def assign_nodes(*, keep_clients: dict[int, list[str]]) -> Assigned:
    """Pairs ready tasks with nodes and starts them, in one transaction: the tasks as read after,
    each with the lease its run takes over. Every claim is conditional, so a node or task someone
    else took since it was read is skipped. Then asks the runs of queued-ahead tasks an idle node
    should have instead to take them back (`Task.steal_requested`).

    `keep_clients` node → client ids: a task given such a node takes one of them, so that its
    run goes on with a websocket one of the node's previous runs left open under it."""
    choice = choose_assignments()
    if not choice.assignments and not choice.steals and not choice.fair_steals:
        return Assigned()  # the usual pass when every node is busy: no write, no lock taken
    assigned = Assigned()
    unused = {node_id: list(ids) for node_id, ids in keep_clients.items()}
    with transaction.atomic():
        started: list[tuple[uuid.UUID, str, bool]] = []
        for pair, ahead in choice.assignments:
            task, node = pair.task, pair.node
            owner = _start(task, node, ahead=ahead, client_ids=unused.get(node.pk, []))
            if owner is None:
                continue
            metrics.task_started(task, warm=pair.warm, ahead=ahead)
            started.append((task.pk, owner, ahead))
        running = tasks_to_run([task_id for task_id, _, _ in started])
        assigned.started = [
            (running[task_id], owner, ahead)
            for task_id, owner, ahead in started
            if task_id in running
        ]
        to_take_back = [steal.task.pk for steal in choice.steals]
        to_take_back += [task.pk for task in choice.fair_steals]
        for task_id in to_take_back:
            asked = Task.objects.filter(
                pk=task_id, status=Task.Status.RUNNING, steal_requested=False
            ).update(steal_requested=True)
            if asked:
                assigned.steals.append(task_id)
    return assigned


def _start(task: ReadyTask, node: NodeState, *, ahead: bool, client_ids: list[str]) -> str | None:
    """Claims the node (`ahead`: one more place in a busy node's queue) and starts the task on
    it; the new lease's owner, or None when another dispatcher took either first (the node is
    then left as it was)."""
    if not node_claim(node_id=node.pk, model=task.main_model, loras=task.loras, ahead=ahead):
        return None
    owner = new_owner()
    # Each offered client id goes to one task (`workflows.execution.idle_websockets`): ComfyUI
    # sends a client's messages to its latest websocket only.
    client_id = client_ids.pop(0) if client_ids else None
    changes = {"client_id": client_id} if client_id else {}
    won = update_row(
        Task,
        task.pk,
        equal("status", Task.Status.PENDING) & Condition('"files_ready"'),
        values={
            "status": Task.Status.RUNNING,
            "node": node.pk,
            "started_at": timezone.now(),
            "prompt_started": True,  # from now on its prompt may be sent: see Task.prompt_started
            "lease_owner": owner,
            "lease_expires_at": leases.lease_deadline(),
            **changes,
        },
        expressions={"attempts": '"attempts" + 1'},
    )
    if not won:
        node_release_claim(node_id=node.pk, ran_model=node.last_model, ran_loras=node.last_loras)
        if ahead:  # a release leaves a busy node the model of its latest task: ours, undone
            Node.objects.filter(pk=node.pk).update(
                last_model=node.last_model, last_loras=node.last_loras
            )
        return None
    return owner
