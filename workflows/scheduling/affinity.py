"""Model-affinity scheduling: which ready task goes to which idle node.

`plan` is a pure function over plain objects, so every rule is testable without a database:
1. tasks are taken in the order given (the fair share's, `workflows.scheduling.fair_share`:
   oldest first for a single client), each only to a node that can run it (`can_run`: its
   classes, model files and labels); one that no idle node can run waits, and later tasks go;
2. a task goes to an idle node that last ran its main model (checkpoint or UNet), the one with
   the most of its LoRAs first, then the one idle longest;
3. with no such node, it waits for one, but only while a busy node runs the same model and for
   at most `affinity_wait` seconds from when it first declined a cold node that the plain order
   would have given it; later tasks may go ahead meanwhile;
4. otherwise it takes the idle node idle longest among those no waiting task wants warm, so a
   cold start does not throw away a model another task is about to use.

The same plan queues tasks ahead on busy nodes with room (NODE__QUEUE_AHEAD), by the node's
model when its queue empties, once the idle nodes are served. `steals` decides which tasks so
queued, not started yet, to take back for a node left idle.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


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


@dataclass
class Plan(Generic[T, N]):
    assignments: list[Assignment[T, N]]
    holding_back: list[Hashable]  # tasks that declined a cold node FIFO would have given them


def plan(
    tasks: Sequence[T],
    idle_nodes: Sequence[N],
    *,
    busy_models: Iterable[str],
    waited: dict[Hashable, float],
    affinity_wait: float,
    can_run: Callable[[T, N], bool] = lambda task, node: True,
) -> Plan[T, N]:
    """Pairs ready tasks (in the order given) with idle nodes (idle longest first) that can run
    them.

    `busy_models` are the main models of the tasks running now, one per busy node; `waited`
    maps a task's pk to the seconds since it first declined a cold node that the plain order would
    have given it (missing: not yet)."""
    free = list(idle_nodes)
    coming_warm = Counter(model for model in busy_models if model)
    wanted = Counter(task.main_model for task in tasks if task.main_model)
    assignments: list[Assignment[T, N]] = []
    holding_back: list[Hashable] = []
    passed = 0
    for task in tasks:
        if not free:
            break
        able = [node for node in free if can_run(task, node)]
        if not able:
            continue  # it waits for a node that can run it; later tasks may go meanwhile
        model = task.main_model
        warm = [node for node in able if model and node.last_model == model]
        if warm:
            node = max(warm, key=lambda n: (lora_overlap(task, n), -free.index(n)))
        elif model and coming_warm[model] and waited.get(task.pk, 0.0) < affinity_wait:
            if passed < len(free):  # plain FIFO would have started it now: its wait begins
                holding_back.append(task.pk)
            passed += 1
            continue
        else:
            spare = [node for node in able if not wanted[node.last_model]]
            node = (spare or able)[0]
        free.remove(node)
        if model:
            wanted[model] -= 1
            coming_warm[model] += 1
        assignments.append(Assignment(task=task, node=node, warm=bool(warm)))
    return Plan(assignments, holding_back)


def lora_overlap(task: WaitingTask, node: IdleNode) -> int:
    return len(set(task.loras) & set(node.last_loras))


class QueuedTask(WaitingTask, Protocol):
    """A task queued ahead on a busy node, not known to have started there."""

    @property
    def warm_where_queued(self) -> bool: ...  # the prompt before it runs its main model
    @property
    def queued_for(self) -> float: ...  # seconds since it was queued


Q = TypeVar("Q", bound=QueuedTask)


def steals(
    queued: Sequence[Q],
    idle_nodes: Sequence[N],
    *,
    affinity_wait: float,
    can_run: Callable[[Q, N], bool] = lambda task, node: True,
) -> list[Assignment[Q, N]]:
    """Which queued-ahead tasks (oldest first) to take back for idle nodes (idle longest first)
    that no ready task was given: no task waits behind another's job while a node that can run
    it is idle. Each goes to a node that can run it, warm first; one queued behind its own model
    stays there while a warm node is worth waiting for (rule 3 above), unless an idle node is
    warm too."""
    free = list(idle_nodes)
    taken: list[Assignment[Q, N]] = []
    for task in queued:
        if not free:
            break
        able = [node for node in free if can_run(task, node)]
        if not able:
            continue
        model = task.main_model
        warm = [node for node in able if model and node.last_model == model]
        if warm:
            node = max(warm, key=lambda n: (lora_overlap(task, n), -free.index(n)))
        elif task.warm_where_queued and task.queued_for < affinity_wait:
            continue
        else:
            node = able[0]
        free.remove(node)
        taken.append(Assignment(task=task, node=node, warm=bool(warm)))
    return taken


FORGET_AFTER = 600.0  # seconds past its wait: a task held back that long ago is surely gone


class HoldBackClock:
    """When each task first declined a cold node, as this process saw it (monotonic seconds).

    The affinity wait counts from there rather than from submission: a task queued behind a
    busy pool has waited long already, yet its turn is the moment a warm node is worth waiting
    for. Process-local is enough for a soft bound: with several dispatchers a task waits at
    most AFFINITY_WAIT in the first one that holds it back, plus one sweep."""

    def __init__(self) -> None:
        self.since: dict[Hashable, float] = {}

    def waited(
        self,
        ready: Iterable[Hashable],
        now: float,
        *,
        all_ready: bool = True,
        forget_after: float = FORGET_AFTER,
    ) -> dict[Hashable, float]:
        """Seconds each ready task has been held back. With `all_ready` (`ready` is every ready
        task), tasks no longer ready are forgotten; else those held back over `forget_after`
        seconds ago are (long past their wait, and most likely gone)."""
        if all_ready:
            self.since = {pk: self.since[pk] for pk in ready if pk in self.since}
        else:
            self.since = {pk: t for pk, t in self.since.items() if now - t < forget_after}
        return {pk: now - since for pk, since in self.since.items()}

    def hold(self, pks: Iterable[Hashable], now: float) -> None:
        for pk in pks:
            self.since.setdefault(pk, now)


