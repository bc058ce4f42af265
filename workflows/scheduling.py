"""Model-affinity scheduling: which ready task goes to which idle node.

`plan` is a pure function over plain objects, so every rule is testable without a database:
1. tasks are taken oldest first (FIFO);
2. a task goes to an idle node that last ran its main model (checkpoint or UNet), the one with
   the most of its LoRAs first, then the one idle longest;
3. with no such node, it waits for one, but only while a busy node runs the same model and for
   at most `affinity_wait` seconds since it became ready; later tasks may go ahead meanwhile;
4. otherwise it takes the idle node idle longest among those no waiting task wants warm, so a
   cold start does not throw away a model another task is about to use.

A task's wait counts from when it became ready: its creation, or the end of the download of
its last file, both read from the database so every dispatcher agrees.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from django.conf import settings
from django.utils import timezone

from downloads.selectors import files_completed_at
from nodes.models import Node
from workflows.models import Task


class WaitingTask(Protocol):
    @property
    def pk(self) -> Hashable: ...
    @property
    def main_model(self) -> str: ...
    @property
    def loras(self) -> Sequence[str]: ...


class IdleNode(Protocol):
    @property
    def pk(self) -> Hashable: ...
    @property
    def last_model(self) -> str: ...
    @property
    def last_loras(self) -> Sequence[str]: ...


T = TypeVar("T", bound=WaitingTask)
N = TypeVar("N", bound=IdleNode)


@dataclass(frozen=True)
class Assignment(Generic[T, N]):
    task: T
    node: N
    warm: bool  # the node already holds the task's main model: no load needed


def plan(
    tasks: Sequence[T],
    idle_nodes: Sequence[N],
    *,
    busy_models: Iterable[str],
    waited: dict[Hashable, float],
    affinity_wait: float,
) -> list[Assignment[T, N]]:
    """Pairs ready tasks (oldest first) with idle nodes (idle longest first).

    `busy_models` are the main models of the tasks running now, one per busy node; `waited`
    maps a task's pk to the seconds since it became ready (missing means just now)."""
    free = list(idle_nodes)
    coming_warm = Counter(model for model in busy_models if model)
    wanted = Counter(task.main_model for task in tasks if task.main_model)
    assignments: list[Assignment[T, N]] = []
    for task in tasks:
        if not free:
            break
        model = task.main_model
        warm = [node for node in free if model and node.last_model == model]
        if warm:
            node = max(warm, key=lambda n: (lora_overlap(task, n), -free.index(n)))
        elif model and coming_warm[model] and waited.get(task.pk, 0.0) < affinity_wait:
            continue
        else:
            spare = [node for node in free if not wanted[node.last_model]]
            node = (spare or free)[0]
        free.remove(node)
        if model:
            wanted[model] -= 1
            coming_warm[model] += 1
        assignments.append(Assignment(task=task, node=node, warm=bool(warm)))
    return assignments


def lora_overlap(task: WaitingTask, node: IdleNode) -> int:
    return len(set(task.loras) & set(node.last_loras))


LOOKAHEAD = 200  # ready tasks looked at beyond one per idle node: some may pass a waiting one


def choose_assignments(nodes: Sequence[Node]) -> list[Assignment[Task, Node]]:
    """The pairs for this dispatch pass."""
    if not nodes:
        return []
    ready = list(
        Task.objects.filter(status=Task.Status.PENDING, files_ready=True)
        .order_by("created_at")
        .only("id", "main_model", "loras", "files", "attempts", "created_at")[
            : len(nodes) + LOOKAHEAD
        ]
    )
    if not ready:
        return []
    busy_models = Task.objects.filter(
        status=Task.Status.RUNNING, node__status=Node.Status.BUSY, node__enabled=True
    ).values_list("main_model", flat=True)
    return plan(
        ready,
        nodes,
        busy_models=list(busy_models),
        waited=seconds_ready(ready),
        affinity_wait=settings.ROUTER.affinity_wait,
    )


def seconds_ready(tasks: Sequence[Task]) -> dict[Hashable, float]:
    """How long each task has been ready: since it was created, or since its last file finished
    downloading if that came later."""
    downloaded = files_completed_at(task_ids=[task.pk for task in tasks if task.files])
    now = timezone.now()
    waited: dict[Hashable, float] = {}
    for task in tasks:
        ready_at = max(task.created_at, downloaded.get(task.pk) or task.created_at)
        waited[task.pk] = (now - ready_at).total_seconds()
    return waited
